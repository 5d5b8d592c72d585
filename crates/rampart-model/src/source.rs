//! Reading a module file (YAML 1.2, or JSON, which is YAML's flow style) into a JSON value
//! and an index of where each value starts, so every later error can name its line and
//! column.
//!
//! Scalars are resolved by the YAML 1.2 core schema: quoted scalars are always text;
//! `true`/`false`, `null`/`~`/nothing, integers and floats are recognised in plain scalars
//! only, so `no` or `on` stay text (no "Norway problem"). Anchors, aliases and tags are
//! refused: a module is a plain tree, and aliases are how a small file expands into a huge
//! one. Duplicate keys are refused rather than one silently winning.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Diagnostic, ErrorClass, Pos};

/// Nesting deeper than this is refused (a model is a few levels deep; this guards the stack).
const MAX_DEPTH: usize = 64;

/// A parsed document: its value and where each value starts.
///
/// Positions are kept as a flat list of nodes (parent, key or index, position) in document
/// order, with no path strings built while reading: positions are only looked up when
/// something is wrong, and then the list is indexed once.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as JSON.
    pub value: Value,
    nodes: Vec<Node>,
    index: std::sync::OnceLock<HashMap<(usize, Seg), usize>>,
}

/// One value's place: its parent node, how the parent names it, where it starts.
#[derive(Debug, Clone)]
struct Node {
    parent: usize,
    seg: Seg,
    pos: Pos,
}

/// A key of a mapping or an index in a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Root,
    Key(String),
    Index(usize),
}

impl Document {
    /// Where the value at `path` (keys and indexes joined by `.`) starts, or the nearest
    /// enclosing value that exists.
    pub fn position(&self, path: &str) -> Pos {
        let index = self.index.get_or_init(|| {
            self.nodes
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, n)| ((n.parent, n.seg.clone()), i))
                .collect()
        });
        let Some(root) = self.nodes.first() else {
            return Pos::default();
        };
        let mut at = 0;
        let mut pos = root.pos;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let by_key = index.get(&(at, Seg::Key(part.to_owned())));
            let by_index = part
                .parse::<usize>()
                .ok()
                .and_then(|i| index.get(&(at, Seg::Index(i))));
            match by_key.or(by_index) {
                Some(&child) => {
                    at = child;
                    pos = self.nodes[child].pos;
                }
                None => break,
            }
        }
        pos
    }
}

/// Parses `text` into a [`Document`].
pub fn read(text: &str) -> Result<Document, Diagnostic> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    let mut documents = 0;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let m = e.marker();
                return Err(Diagnostic::new(
                    ErrorClass::Syntax,
                    "",
                    e.info().to_string(),
                )
                .at(Pos::new(m.line(), m.col() + 1))
                .hint("check the indentation and quoting around this point; tabs are not allowed for indentation"));
            }
        };
        let pos = Pos::new(span.start.line(), span.start.col() + 1);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::new(
                        ErrorClass::Syntax,
                        "",
                        "the file holds more than one document".to_owned(),
                    )
                    .at(pos)
                    .hint("put each module in a file of its own"));
                }
            }
            Event::Alias(_) => {
                return Err(Diagnostic::new(
                    ErrorClass::Unsupported,
                    &builder.path(),
                    "aliases (`*name`) are not supported".to_owned(),
                )
                .at(pos)
                .hint("write the value out where it is used"));
            }
            Event::Scalar(text, style, anchor, tag) => {
                refuse_anchor_or_tag(&builder, anchor, tag.is_some(), pos)?;
                let value = resolve(&text, style);
                builder.value(value, pos, &text)?;
            }
            Event::SequenceStart(anchor, tag) => {
                refuse_anchor_or_tag(&builder, anchor, tag.is_some(), pos)?;
                builder.open(Frame::Seq(Vec::new()), pos)?;
            }
            Event::MappingStart(anchor, tag) => {
                refuse_anchor_or_tag(&builder, anchor, tag.is_some(), pos)?;
                builder.open(Frame::Map(Map::new(), None), pos)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close()?,
        }
    }
    let value = builder.root.unwrap_or(Value::Null);
    Ok(Document {
        value,
        nodes: builder.nodes,
        index: std::sync::OnceLock::new(),
    })
}

fn refuse_anchor_or_tag(
    builder: &Builder,
    anchor: usize,
    tagged: bool,
    pos: Pos,
) -> Result<(), Diagnostic> {
    if anchor != 0 {
        return Err(Diagnostic::new(
            ErrorClass::Unsupported,
            &builder.path(),
            "anchors (`&name`) are not supported".to_owned(),
        )
        .at(pos)
        .hint("write the value out where it is used"));
    }
    if tagged {
        return Err(Diagnostic::new(
            ErrorClass::Unsupported,
            &builder.path(),
            "tags (`!name`) are not supported".to_owned(),
        )
        .at(pos)
        .hint("remove the tag; values are typed by the module format"));
    }
    Ok(())
}

/// The YAML 1.2 core schema for plain scalars; everything quoted or in a block is text.
fn resolve(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits(unsigned) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    let numeric = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && unsigned.bytes().any(|b| b.is_ascii_digit())
        && !unsigned.starts_with(['e', 'E']);
    if numeric {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_owned())
}

enum Frame {
    Seq(Vec<Value>),
    /// The map so far and the key waiting for its value (with the key's position).
    Map(Map<String, Value>, Option<(String, Pos)>),
}

#[derive(Default)]
struct Builder {
    /// Open lists and mappings, each with its node.
    stack: Vec<(Frame, usize)>,
    root: Option<Value>,
    nodes: Vec<Node>,
}

impl Builder {
    /// The path of the value about to be added (for errors only).
    fn path(&self) -> String {
        let mut parts = Vec::new();
        if let Some((_, node)) = self.stack.last() {
            let mut n = *node;
            while let Some(node) = self.nodes.get(n) {
                match &node.seg {
                    Seg::Root => break,
                    Seg::Key(k) => parts.push(k.clone()),
                    Seg::Index(i) => parts.push(i.to_string()),
                }
                n = node.parent;
            }
            parts.reverse();
        }
        match self.stack.last() {
            Some((Frame::Seq(items), _)) => parts.push(items.len().to_string()),
            Some((Frame::Map(_, Some((key, _))), _)) => parts.push(key.clone()),
            _ => {}
        }
        parts.join(".")
    }

    /// Records where the value about to be added starts; returns its node.
    fn place(&mut self, pos: Pos) -> usize {
        let (parent, seg) = match self.stack.last() {
            None => (usize::MAX, Seg::Root),
            Some((Frame::Seq(items), node)) => (*node, Seg::Index(items.len())),
            Some((Frame::Map(_, Some((key, _))), node)) => (*node, Seg::Key(key.clone())),
            Some((Frame::Map(_, None), node)) => (*node, Seg::Root),
        };
        self.nodes.push(Node { parent, seg, pos });
        self.nodes.len() - 1
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), Diagnostic> {
        if matches!(self.stack.last(), Some((Frame::Map(_, None), _))) {
            return Err(Diagnostic::new(
                ErrorClass::Syntax,
                &self.path(),
                "a key must be text, not a list or a mapping".to_owned(),
            )
            .at(pos));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(
                ErrorClass::Syntax,
                &self.path(),
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .at(pos));
        }
        let node = self.place(pos);
        self.stack.push((frame, node));
        Ok(())
    }

    fn close(&mut self) -> Result<(), Diagnostic> {
        let Some((frame, _)) = self.stack.pop() else {
            return Ok(());
        };
        let value = match frame {
            Frame::Seq(items) => Value::Array(items),
            Frame::Map(map, _) => Value::Object(map),
        };
        self.attach(value)
    }

    /// A scalar: a key when a map waits for one, else a value.
    fn value(&mut self, value: Value, pos: Pos, raw: &str) -> Result<(), Diagnostic> {
        if let Some((Frame::Map(map, None), _)) = self.stack.last() {
            let key = match &value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                _ => raw.to_owned(),
            };
            let path = self.path();
            if key.is_empty() || key.contains('.') {
                return Err(Diagnostic::new(
                    ErrorClass::Syntax,
                    &path,
                    format!("`{raw}` is not a valid key"),
                )
                .at(pos)
                .hint("keys are names: letters, digits, `_` and `-`"));
            }
            if map.contains_key(&key) {
                return Err(Diagnostic::new(
                    ErrorClass::DuplicateKey,
                    &join(&path, &key),
                    format!("the key `{key}` appears twice in this mapping"),
                )
                .at(pos)
                .hint("remove or rename one of them"));
            }
            if let Some((Frame::Map(_, pending), _)) = self.stack.last_mut() {
                *pending = Some((key, pos));
            }
            return Ok(());
        }
        self.place(pos);
        self.attach(value)
    }

    fn attach(&mut self, value: Value) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some((Frame::Seq(items), _)) => items.push(value),
            Some((Frame::Map(map, pending), _)) => {
                if let Some((key, _)) = pending.take() {
                    map.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_give_the_same_value_and_positions() {
        let yaml = "module: sales\nentities:\n  - name: Customer\n    public: true\n    size: 12\n    ratio: 1.5\n    flag: no\n    quoted: \"true\"\n    none:\n";
        let doc = read(yaml).unwrap();
        assert_eq!(
            doc.value,
            json!({"module": "sales", "entities": [{"name": "Customer", "public": true, "size": 12, "ratio": 1.5, "flag": "no", "quoted": "true", "none": null}]})
        );
        assert_eq!(doc.position("entities.0.public"), Pos::new(4, 13));
        assert_eq!(doc.position("entities.0"), Pos::new(3, 5));
        assert_eq!(doc.position("entities.0.missing.deeper"), Pos::new(3, 5));
        let json_text = "{\n  \"module\": \"sales\",\n  \"entities\": [{\"name\": \"Customer\", \"public\": true}]\n}";
        let doc = read(json_text).unwrap();
        assert_eq!(doc.value["entities"][0]["public"], json!(true));
        assert_eq!(doc.position("entities.0.public").line, 3);
    }

    #[test]
    fn what_is_refused_names_its_line() {
        for (text, class, line) in [
            ("a: 1\na: 2\n", ErrorClass::DuplicateKey, 2),
            ("a: &x 1\nb: *x\n", ErrorClass::Unsupported, 1),
            ("a: !!str 1\n", ErrorClass::Unsupported, 1),
            ("a: [1, 2\nb: 3\n", ErrorClass::Syntax, 2),
            ("a: 1\n---\nb: 2\n", ErrorClass::Syntax, 2),
            ("a:\n\t- 1\n", ErrorClass::Syntax, 2),
        ] {
            let e = read(text).unwrap_err();
            assert_eq!(e.class, class, "{text:?}: {e}");
            assert_eq!(e.pos.line, line, "{text:?}: {e}");
        }
    }
}
