//! Physical layout (in progress).
