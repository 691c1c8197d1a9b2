//! RFC 4251 §5 data types: the one place SSH wire values are encoded and decoded.
//!
//! [`Reader`] is a cursor built only on checked splits: every read either returns a
//! value or a [`DecodeError`]; nothing here can panic on peer input. [`Writer`]
//! appends to a caller-owned `Vec<u8>` so packet buffers can be reused.

use crate::error::DecodeError;

/// Largest string or name-list we accept from a peer. A whole packet is at most
/// 256 KiB, so nothing legitimate is larger; the bound keeps allocation finite.
pub const MAX_STRING_LEN: usize = 256 * 1024;

/// A bounds-checked cursor over peer bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Number of bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Succeeds only if every byte has been consumed (trailing data is an error).
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingData(self.buf.len()))
        }
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// `byte`
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// `boolean`: any non-zero value is true (RFC 4251 §5).
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }

    /// `uint32`
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// `uint64`
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// `string`: a uint32 length then that many bytes.
    pub fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        if len > MAX_STRING_LEN {
            return Err(DecodeError::TooLong(len));
        }
        self.take(len)
    }

    /// A `string` that must be UTF-8 (RFC 4251 says ISO-10646 UTF-8 for text).
    pub fn utf8(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.string()?).map_err(|_| DecodeError::NotUtf8)
    }

    /// `mpint`, returned as its two's-complement big-endian bytes, checked to be
    /// minimally encoded and non-negative (SSH never sends negative mpints).
    pub fn mpint(&mut self) -> Result<&'a [u8], DecodeError> {
        let bytes = self.string()?;
        match bytes {
            [] => Ok(bytes),
            [first, ..] if first & 0x80 != 0 => Err(DecodeError::NegativeMpint),
            [0, second, ..] if second & 0x80 == 0 => Err(DecodeError::NonMinimalMpint),
            [0] => Err(DecodeError::NonMinimalMpint),
            _ => Ok(bytes),
        }
    }

    /// An `mpint` as unsigned magnitude bytes (the leading sign byte removed).
    pub fn mpint_unsigned(&mut self) -> Result<&'a [u8], DecodeError> {
        let bytes = self.mpint()?;
        Ok(bytes.strip_prefix(&[0]).unwrap_or(bytes))
    }

    /// `name-list`: comma-separated US-ASCII names, none empty.
    pub fn name_list(&mut self) -> Result<NameList, DecodeError> {
        let raw = self.string()?;
        NameList::parse(raw)
    }
}

/// An RFC 4251 `name-list`, kept as the peer sent it; unknown names are just names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameList(pub Vec<String>);

impl NameList {
    /// Parses the comma-separated form. Empty names and non-ASCII bytes are errors.
    pub fn parse(raw: &[u8]) -> Result<Self, DecodeError> {
        if raw.is_empty() {
            return Ok(Self::default());
        }
        if !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(DecodeError::BadNameList);
        }
        let text = std::str::from_utf8(raw).map_err(|_| DecodeError::BadNameList)?;
        let mut names = Vec::new();
        for name in text.split(',') {
            if name.is_empty() {
                return Err(DecodeError::BadNameList);
            }
            names.push(name.to_owned());
        }
        Ok(Self(names))
    }

    /// Builds a list from names.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        Self(names.into_iter().map(|n| n.as_ref().to_owned()).collect())
    }

    /// Whether `name` is in the list.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The comma-joined form.
    pub fn joined(&self) -> String {
        self.0.join(",")
    }
}

/// Appends SSH wire values to a caller-owned buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Appends to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Self { buf }
    }

    /// Bytes written so far (including what `buf` held before).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Raw bytes, no length prefix.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// `byte`
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// `boolean`
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// `uint32`
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    /// `uint64`
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    /// `string`. Lengths over 4 GiB cannot occur: our buffers are bounded far below.
    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        self.u32(len_u32(bytes.len()));
        self.raw(bytes)
    }

    /// `mpint` from unsigned big-endian magnitude bytes (leading zeros allowed).
    pub fn mpint_unsigned(&mut self, magnitude: &[u8]) -> &mut Self {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let trimmed = magnitude.get(start..).unwrap_or_default();
        let needs_pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
        self.u32(len_u32(trimmed.len() + usize::from(needs_pad)));
        if needs_pad {
            self.u8(0);
        }
        self.raw(trimmed)
    }

    /// `name-list`
    pub fn name_list(&mut self, list: &NameList) -> &mut Self {
        let joined = list.joined();
        self.string(joined.as_bytes())
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        let mut buf = Vec::new();
        Writer::new(&mut buf)
            .u8(7)
            .bool(true)
            .u32(0xdead_beef)
            .u64(1 << 40)
            .string(b"hello")
            .mpint_unsigned(&[0x00, 0x80, 0x01])
            .name_list(&NameList::from_names(["a", "b-c@x"]));
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8().unwrap(), 7);
        assert!(r.bool().unwrap());
        assert_eq!(r.u32().unwrap(), 0xdead_beef);
        assert_eq!(r.u64().unwrap(), 1 << 40);
        assert_eq!(r.string().unwrap(), b"hello");
        assert_eq!(r.mpint().unwrap(), &[0x00, 0x80, 0x01]);
        assert_eq!(r.name_list().unwrap().joined(), "a,b-c@x");
        r.finish().unwrap();
    }

    #[test]
    fn mpint_matches_rfc4251_examples() {
        let cases: &[(&[u8], &[u8])] = &[
            (&[], &[0, 0, 0, 0]),
            (
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0x80], &[0, 0, 0, 2, 0x00, 0x80]),
            (&[0, 0, 0x01], &[0, 0, 0, 1, 0x01]),
        ];
        for (input, expected) in cases {
            let mut buf = Vec::new();
            Writer::new(&mut buf).mpint_unsigned(input);
            assert_eq!(&buf, expected);
        }
    }

    #[test]
    fn rejects_truncated_values() {
        assert_eq!(Reader::new(&[0, 0, 1]).u32(), Err(DecodeError::Truncated));
        assert_eq!(
            Reader::new(&[0, 0, 0, 5, b'a']).string(),
            Err(DecodeError::Truncated)
        );
        assert_eq!(Reader::new(&[]).u8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn rejects_huge_string_lengths_without_allocating() {
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff]).string(),
            Err(DecodeError::TooLong(0xffff_ffff))
        );
    }

    #[test]
    fn rejects_trailing_data() {
        let mut r = Reader::new(&[1, 2]);
        r.u8().unwrap();
        assert_eq!(r.finish(), Err(DecodeError::TrailingData(1)));
    }

    #[test]
    fn rejects_bad_mpints_and_name_lists() {
        assert_eq!(
            Reader::new(&[0, 0, 0, 1, 0x80]).mpint(),
            Err(DecodeError::NegativeMpint)
        );
        assert_eq!(
            Reader::new(&[0, 0, 0, 2, 0, 1]).mpint(),
            Err(DecodeError::NonMinimalMpint)
        );
        assert_eq!(NameList::parse(b"a,,b"), Err(DecodeError::BadNameList));
        assert_eq!(NameList::parse(b"a, b"), Err(DecodeError::BadNameList));
        assert_eq!(NameList::parse(b"").unwrap(), NameList::default());
    }
}
