//! SpiceDB: placeholder until the driver is wired.

use rampart_authz::dataset::{DatasetSpec, Request};

use crate::report::Figures;
use crate::Rampart;

pub fn run(
    _spec: &DatasetSpec,
    _owners: &[u32],
    _requests: &[Request],
    _expected: &[bool],
    _rampart: &Rampart,
    _rounds: usize,
    _figures: &mut Figures,
) {
    eprintln!("spicedb: not wired yet");
}
