//! Thrift's binary protocol as plain values: a message is read into a
//! [`Struct`] of field ids and [`Value`]s and written back the same way, so
//! the SQL gateway (sql_gateway.rs) handles TCLIService's structs by field
//! id, as the IDL numbers them, without generated code. The wire format is
//! Apache Thrift's own library (`thrift` crate).

use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TFieldIdentifier, TInputProtocol,
    TListIdentifier, TMapIdentifier, TMessageIdentifier, TMessageType, TOutputProtocol,
    TStructIdentifier, TType,
};

/// Deeper nesting than this is refused (TCLIService's deepest is ~6).
const MAX_DEPTH: usize = 32;

/// One Thrift value. Strings are binaries (Thrift does not tell them
/// apart on the wire); sets are read as lists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(f64),
    Binary(Vec<u8>),
    Struct(Struct),
    List(TType, Vec<Value>),
    Map(TType, TType, Vec<(Value, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Self {
        Self::Binary(s.into().into_bytes())
    }

    fn ttype(&self) -> TType {
        match self {
            Self::Bool(_) => TType::Bool,
            Self::I8(_) => TType::I08,
            Self::I16(_) => TType::I16,
            Self::I32(_) => TType::I32,
            Self::I64(_) => TType::I64,
            Self::Double(_) => TType::Double,
            Self::Binary(_) => TType::String,
            Self::Struct(_) => TType::Struct,
            Self::List(..) => TType::List,
            Self::Map(..) => TType::Map,
        }
    }
}

/// A struct: its fields by id, in the order read or built.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Struct(pub Vec<(i16, Value)>);

impl Struct {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds field `id` (builder style).
    pub fn with(mut self, id: i16, v: Value) -> Self {
        self.0.push((id, v));
        self
    }

    pub fn get(&self, id: i16) -> Option<&Value> {
        self.0.iter().find(|(i, _)| *i == id).map(|(_, v)| v)
    }

    pub fn child(&self, id: i16) -> Option<&Struct> {
        match self.get(id) {
            Some(Value::Struct(s)) => Some(s),
            _ => None,
        }
    }

    pub fn bytes(&self, id: i16) -> Option<&[u8]> {
        match self.get(id) {
            Some(Value::Binary(b)) => Some(b),
            _ => None,
        }
    }

    pub fn text(&self, id: i16) -> Option<String> {
        self.bytes(id).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn int(&self, id: i16) -> Option<i64> {
        match self.get(id)? {
            Value::I8(n) => Some(i64::from(*n)),
            Value::I16(n) => Some(i64::from(*n)),
            Value::I32(n) => Some(i64::from(*n)),
            Value::I64(n) => Some(*n),
            _ => None,
        }
    }

    pub fn bool(&self, id: i16) -> Option<bool> {
        match self.get(id)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// A call: the method's name, its sequence number and its arguments
/// struct (TCLIService's methods take one request, field 1).
#[derive(Debug)]
pub(crate) struct Call {
    pub method: String,
    pub seq: i32,
    pub args: Struct,
}

/// Reads one call from a request body. The error says what was wrong.
pub(crate) fn read_call(body: &[u8]) -> Result<Call, String> {
    // No string can be longer than the body: a length beyond it is refused
    // before anything is allocated for it.
    let config = thrift::TConfiguration::builder()
        .max_string_size(Some(body.len()))
        .build()
        .map_err(|e| e.to_string())?;
    let mut p = TBinaryInputProtocol::with_config(body, false, config);
    let id = p.read_message_begin().map_err(|e| format!("not a Thrift message: {e}"))?;
    if !matches!(id.message_type, TMessageType::Call | TMessageType::OneWay) {
        return Err(format!("expected a call, got a {:?}", id.message_type));
    }
    let args = read_struct(&mut p, 0).map_err(|e| format!("{}: bad arguments: {e}", id.name))?;
    Ok(Call { method: id.name, seq: id.sequence_number, args })
}

fn read_struct(p: &mut dyn TInputProtocol, depth: usize) -> thrift::Result<Struct> {
    if depth > MAX_DEPTH {
        return Err(protocol_error("nested too deeply"));
    }
    p.read_struct_begin()?;
    let mut s = Struct::new();
    loop {
        let f = p.read_field_begin()?;
        if f.field_type == TType::Stop {
            break;
        }
        let v = read_value(p, f.field_type, depth + 1)?;
        if let Some(id) = f.id {
            s.0.push((id, v));
        }
        p.read_field_end()?;
    }
    p.read_struct_end()?;
    Ok(s)
}

fn read_value(p: &mut dyn TInputProtocol, t: TType, depth: usize) -> thrift::Result<Value> {
    Ok(match t {
        TType::Bool => Value::Bool(p.read_bool()?),
        TType::I08 => Value::I8(p.read_i8()?),
        TType::I16 => Value::I16(p.read_i16()?),
        TType::I32 => Value::I32(p.read_i32()?),
        TType::I64 => Value::I64(p.read_i64()?),
        TType::Double => Value::Double(p.read_double()?),
        TType::String | TType::Utf7 => Value::Binary(p.read_bytes()?),
        TType::Struct => Value::Struct(read_struct(p, depth)?),
        TType::List | TType::Set => {
            let (elem, n) = if t == TType::List {
                let l = p.read_list_begin()?;
                (l.element_type, l.size)
            } else {
                let s = p.read_set_begin()?;
                (s.element_type, s.size)
            };
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(read_value(p, elem, depth + 1)?);
            }
            if t == TType::List { p.read_list_end()? } else { p.read_set_end()? }
            Value::List(elem, items)
        }
        TType::Map => {
            let m = p.read_map_begin()?;
            let (kt, vt) = (m.key_type.unwrap_or(TType::Stop), m.value_type.unwrap_or(TType::Stop));
            let mut pairs = Vec::new();
            for _ in 0..m.size {
                let k = read_value(p, kt, depth + 1)?;
                let v = read_value(p, vt, depth + 1)?;
                pairs.push((k, v));
            }
            p.read_map_end()?;
            Value::Map(kt, vt, pairs)
        }
        other => return Err(protocol_error(&format!("unexpected type {other:?}"))),
    })
}

fn protocol_error(message: &str) -> thrift::Error {
    thrift::Error::Protocol(thrift::ProtocolError::new(
        thrift::ProtocolErrorKind::InvalidData,
        message.to_owned(),
    ))
}

/// The reply to `call`: its result struct with the response in field 0.
pub(crate) fn reply(call: &Call, response: Struct) -> Vec<u8> {
    let result = Struct::new().with(0, Value::Struct(response));
    message(&call.method, TMessageType::Reply, call.seq, &result)
}

/// A TApplicationException (`type` 1 is UNKNOWN_METHOD, 7 PROTOCOL_ERROR).
pub(crate) fn exception(method: &str, seq: i32, kind: i32, text: &str) -> Vec<u8> {
    let ex = Struct::new().with(1, Value::str(text)).with(2, Value::I32(kind));
    message(method, TMessageType::Exception, seq, &ex)
}

fn message(name: &str, kind: TMessageType, seq: i32, body: &Struct) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut p = TBinaryOutputProtocol::new(&mut out, true);
        let write = |p: &mut TBinaryOutputProtocol<&mut Vec<u8>>| -> thrift::Result<()> {
            p.write_message_begin(&TMessageIdentifier::new(name, kind, seq))?;
            write_struct(p, body)?;
            p.write_message_end()?;
            p.flush()
        };
        // Writing to a Vec cannot fail.
        write(&mut p).expect("writing Thrift to memory");
    }
    out
}

fn write_struct(p: &mut dyn TOutputProtocol, s: &Struct) -> thrift::Result<()> {
    p.write_struct_begin(&TStructIdentifier::new("s"))?;
    for (id, v) in &s.0 {
        p.write_field_begin(&TFieldIdentifier::new("f", v.ttype(), *id))?;
        write_value(p, v)?;
        p.write_field_end()?;
    }
    p.write_field_stop()?;
    p.write_struct_end()
}

fn write_value(p: &mut dyn TOutputProtocol, v: &Value) -> thrift::Result<()> {
    match v {
        Value::Bool(b) => p.write_bool(*b),
        Value::I8(n) => p.write_i8(*n),
        Value::I16(n) => p.write_i16(*n),
        Value::I32(n) => p.write_i32(*n),
        Value::I64(n) => p.write_i64(*n),
        Value::Double(d) => p.write_double(*d),
        Value::Binary(b) => p.write_bytes(b),
        Value::Struct(s) => write_struct(p, s),
        Value::List(elem, items) => {
            p.write_list_begin(&TListIdentifier::new(*elem, items.len() as i32))?;
            for i in items {
                write_value(p, i)?;
            }
            p.write_list_end()
        }
        Value::Map(kt, vt, pairs) => {
            p.write_map_begin(&TMapIdentifier::new(*kt, *vt, pairs.len() as i32))?;
            for (k, v) in pairs {
                write_value(p, k)?;
                write_value(p, v)?;
            }
            p.write_map_end()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_reads_back_as_written() {
        let response = Struct::new()
            .with(1, Value::Struct(Struct::new().with(1, Value::I32(0))))
            .with(2, Value::List(TType::String, vec![Value::str("a"), Value::str("é")]))
            .with(3, Value::Map(TType::String, TType::String, vec![(Value::str("k"), Value::str("v"))]))
            .with(1281, Value::Bool(true));
        let call = Call { method: "OpenSession".into(), seq: 7, args: Struct::new() };
        let bytes = reply(&call, response.clone());
        let mut p = TBinaryInputProtocol::new(&bytes[..], true);
        let id = p.read_message_begin().unwrap();
        assert_eq!((id.name.as_str(), id.message_type, id.sequence_number), ("OpenSession", TMessageType::Reply, 7));
        let result = read_struct(&mut p, 0).unwrap();
        assert_eq!(result.child(0), Some(&response));
        assert_eq!(response.child(1).and_then(|s| s.int(1)), Some(0));
    }

    /// A call to `name` whose arguments are `args` (bytes after the
    /// message header).
    fn call_bytes(name: &str, args: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80, 0x01, 0x00, 0x01];
        out.extend((name.len() as i32).to_be_bytes());
        out.extend(name.as_bytes());
        out.extend(1i32.to_be_bytes());
        out.extend(args);
        out
    }

    #[test]
    fn lengths_past_the_body_and_deep_nesting_are_refused() {
        // Field 1, a string said to be 50 MB long, in a 30-byte body.
        let mut args = vec![11u8, 0, 1];
        args.extend((50_000_000i32).to_be_bytes());
        let err = read_call(&call_bytes("OpenSession", &args)).unwrap_err();
        assert!(err.contains("OpenSession"), "{err}");
        // Structs nested 100 deep.
        let mut args = Vec::new();
        for _ in 0..100 {
            args.extend([12u8, 0, 1]);
        }
        assert!(read_call(&call_bytes("OpenSession", &args)).is_err());
        // A well-formed empty call reads.
        let call = read_call(&call_bytes("CloseSession", &[0])).unwrap();
        assert_eq!((call.method.as_str(), call.args.0.len()), ("CloseSession", 0));
    }

    #[test]
    fn garbage_and_replies_are_not_calls() {
        assert!(read_call(b"hello").is_err());
        let call = Call { method: "X".into(), seq: 1, args: Struct::new() };
        let err = read_call(&reply(&call, Struct::new())).unwrap_err();
        assert!(err.contains("expected a call"), "{err}");
    }
}
