//! Stream entries out of the replies of `XREADGROUP` and `XAUTOCLAIM`, as
//! bytes (the redis crate's typed replies parse every value into a `Value`
//! map, and `StreamReadReply` clones the whole reply to try two formats).

use redis::{ErrorKind, RedisError, RedisResult, Value};

/// One stream entry: its id and its fields, in the order they were added.
///
/// # Examples
///
/// ```
/// let entry = corepool_redis::Entry::new("1700000000000-0", [("payload", b"hello".to_vec())]);
/// assert_eq!(entry.id, "1700000000000-0");
/// assert_eq!(entry.get("payload"), Some(&b"hello"[..]));
/// assert_eq!(entry.get("missing"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The entry's id (`<ms>-<seq>`): the key of its result.
    pub id: String,
    /// The entry's fields and values.
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Entry {
    /// An entry made by hand (for tests of the function a consumer runs).
    ///
    /// # Examples
    ///
    /// ```
    /// let entry = corepool_redis::Entry::new("1-0", [("n", b"7".to_vec())]);
    /// assert_eq!(entry.fields.len(), 1);
    /// ```
    pub fn new<I, K>(id: impl Into<String>, fields: I) -> Entry
    where
        I: IntoIterator<Item = (K, Vec<u8>)>,
        K: Into<String>,
    {
        Entry {
            id: id.into(),
            fields: fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }

    /// The value of the first field named `field`.
    ///
    /// # Examples
    ///
    /// ```
    /// let entry = corepool_redis::Entry::new("1-0", [("n", b"7".to_vec())]);
    /// assert_eq!(entry.get("n"), Some(&b"7"[..]));
    /// ```
    pub fn get(&self, field: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_slice())
    }
}

fn invalid(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::UnexpectedReturnType, what))
}

fn string(value: Value) -> RedisResult<String> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| invalid("a non-UTF-8 id or field name"))
        }
        Value::SimpleString(s) => Ok(s),
        _ => Err(invalid("a string was expected")),
    }
}

fn bytes(value: Value) -> RedisResult<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        Value::Int(n) => Ok(n.to_string().into_bytes()),
        _ => Err(invalid("a field value was expected")),
    }
}

fn array(value: Value) -> RedisResult<Vec<Value>> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        _ => Err(invalid("an array was expected")),
    }
}

/// One entry, `[id, [field, value, ...]]`; `None` for the nil entries
/// Redis 6 returned for deleted entries.
fn entry(value: Value) -> RedisResult<Option<Entry>> {
    if value == Value::Nil {
        return Ok(None);
    }
    let mut parts = array(value)?.into_iter();
    let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
        return Err(invalid("an entry is [id, fields]"));
    };
    let id = string(id)?;
    let fields = match fields {
        Value::Nil => Vec::new(), // deleted while pending (XREADGROUP with id 0)
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Ok((string(k)?, bytes(v)?)))
            .collect::<RedisResult<_>>()?,
        other => {
            let flat = array(other)?;
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                fields.push((string(k)?, bytes(v)?));
            }
            fields
        }
    };
    Ok(Some(Entry { id, fields }))
}

fn entries(value: Value) -> RedisResult<Vec<Entry>> {
    let mut out = Vec::new();
    for item in array(value)? {
        out.extend(entry(item)?);
    }
    Ok(out)
}

/// The entries of an `XREADGROUP` over one stream (nil: none before the
/// `BLOCK` timeout).
pub(crate) fn read_reply(value: Value) -> RedisResult<Vec<Entry>> {
    let streams = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(pairs) => pairs.into_iter().map(|(_, v)| v).collect(),
        other => array(other)?
            .into_iter()
            .map(|stream| {
                let mut parts = array(stream)?.into_iter();
                parts
                    .nth(1)
                    .ok_or_else(|| invalid("a stream is [key, entries]"))
            })
            .collect::<RedisResult<Vec<_>>>()?,
    };
    let mut out = Vec::new();
    for stream in streams {
        out.extend(entries(stream)?);
    }
    Ok(out)
}

/// The next cursor and the entries of an `XAUTOCLAIM`.
pub(crate) fn autoclaim_reply(value: Value) -> RedisResult<(String, Vec<Entry>)> {
    let mut parts = array(value)?.into_iter();
    let (Some(cursor), Some(claimed)) = (parts.next(), parts.next()) else {
        return Err(invalid("XAUTOCLAIM replies [cursor, entries, deleted]"));
    };
    Ok((string(cursor)?, entries(claimed)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_xreadgroup_and_xautoclaim_replies() {
        let e1 = Value::Array(vec![bulk("1-0"), Value::Array(vec![bulk("n"), bulk("7")])]);
        let e2 = Value::Array(vec![bulk("2-0"), Value::Array(vec![bulk("n"), bulk("8")])]);
        let read = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![e1.clone(), e2.clone()]),
        ])]);
        let got = read_reply(read).unwrap();
        assert_eq!(
            got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["1-0", "2-0"]
        );
        assert_eq!(got[1].get("n"), Some(&b"8"[..]));
        assert!(read_reply(Value::Nil).unwrap().is_empty());

        let claim = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![e1, Value::Nil, e2]),
            Value::Array(vec![]),
        ]);
        let (cursor, got) = autoclaim_reply(claim).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(got.len(), 2, "a nil entry (Redis 6, deleted) is skipped");
        assert!(autoclaim_reply(bulk("x")).is_err());
    }
}
