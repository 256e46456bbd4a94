//! RESP2/RESP3 replies as a tree of frames, for the comparisons that are not byte for byte:
//! an unordered reply compared with its elements sorted, a random one by its shape.

use redis_lite_testkit::frame_len;

/// One reply: its header line (type byte included; a bulk's payload too) and, for an
/// aggregate (array, set, map, push, attribute), its elements.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame {
    pub head: Vec<u8>,
    pub children: Vec<Frame>,
}

impl Frame {
    /// Parses one complete frame (as `Raw::read_reply` returns it).
    pub fn parse(bytes: &[u8]) -> Frame {
        Frame::parse_at(bytes).0
    }

    fn parse_at(bytes: &[u8]) -> (Frame, usize) {
        let line_end = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a complete frame");
        let count = || -> i64 {
            std::str::from_utf8(&bytes[1..line_end])
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        match bytes[0] {
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let items = match bytes[0] {
                    b'%' | b'|' => 2 * count().max(0),
                    _ => count().max(0),
                };
                let mut pos = line_end + 2;
                let mut children = Vec::new();
                for _ in 0..items {
                    let (child, used) = Frame::parse_at(&bytes[pos..]);
                    children.push(child);
                    pos += used;
                }
                let frame = Frame {
                    head: bytes[..line_end].to_vec(),
                    children,
                };
                (frame, pos)
            }
            _ => {
                let len = frame_len(bytes).expect("a complete frame");
                let frame = Frame {
                    head: bytes[..len].to_vec(),
                    children: Vec::new(),
                };
                (frame, len)
            }
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.head.first(), Some(b'-' | b'!'))
    }

    pub fn is_aggregate(&self) -> bool {
        matches!(self.head.first(), Some(b'*' | b'~' | b'>' | b'%' | b'|'))
    }

    /// The frame's text for an integer, simple string or bulk string, without the framing.
    pub fn scalar(&self) -> Vec<u8> {
        let line_end = self
            .head
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(self.head.len());
        match self.head.first() {
            Some(b'$' | b'=' | b'!') => {
                let start = (line_end + 2).min(self.head.len());
                let end = self.head.len().saturating_sub(2).max(start);
                self.head[start..end].to_vec()
            }
            _ => self.head[1.min(line_end)..line_end].to_vec(),
        }
    }

    /// The elements sorted, as a map's pairs (RESP3) or an array's items; nested frames are
    /// left as they are.
    pub fn sorted(mut self) -> Frame {
        if self.head.first() == Some(&b'%') {
            let mut pairs: Vec<Vec<Frame>> =
                self.children.chunks(2).map(<[Frame]>::to_vec).collect();
            pairs.sort();
            self.children = pairs.concat();
        } else {
            self.children.sort();
        }
        self
    }

    /// What kind of reply it is and how many elements it has, nothing of its values (an error
    /// keeps its text: errors are never random).
    pub fn shape(self) -> Frame {
        if self.is_error() {
            return self;
        }
        // An aggregate keeps its length; a null bulk stays a null.
        let head = if self.is_aggregate() || self.head.starts_with(b"$-1") {
            self.head
        } else {
            vec![self.head[0]]
        };
        Frame {
            head,
            children: Vec::new(),
        }
    }

    /// The frame written back as RESP, for reports.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        if self.is_aggregate() {
            out.extend_from_slice(b"\r\n");
        }
        for child in &self.children {
            out.extend_from_slice(&child.to_bytes());
        }
        out
    }
}
