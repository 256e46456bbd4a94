//! What each request is: SET or GET in a given ratio, of a key drawn from a keyspace, encoded
//! as RESP2 straight into a connection's output buffer. Keys are `key:` and twelve digits, as
//! redis-benchmark's `key:__rand_int__` becomes, so both tools fill a server alike.

use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Digits of a key's number: every key has the same length, so each request is a fixed
/// template with the digits written in place.
const KEY_DIGITS: usize = 12;
const KEY_PREFIX: &[u8] = b"key:";

/// The command mix, `SETS:GETS` on the command line (`1:10`: one SET for ten GETs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mix {
    pub sets: u32,
    pub gets: u32,
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Mix, String> {
        let bad = || format!("'{text}' is not a SETS:GETS ratio such as 1:10");
        let (sets, gets) = text.split_once(':').ok_or_else(bad)?;
        let mix = Mix {
            sets: sets.parse().map_err(|_| bad())?,
            gets: gets.parse().map_err(|_| bad())?,
        };
        if mix.sets == 0 && mix.gets == 0 {
            return Err(bad());
        }
        Ok(mix)
    }
}

/// Which command a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Set,
    Get,
}

/// A request encoded once with key digits `000000000000`; `digits_at` is where they start.
struct Template {
    bytes: Vec<u8>,
    digits_at: usize,
}

impl Template {
    /// `args` as a RESP2 array of bulk strings; the argument that starts with `key:` is the key.
    fn new(args: &[&[u8]]) -> Template {
        let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
        let mut digits_at = 0;
        for arg in args {
            bytes.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            if arg.starts_with(KEY_PREFIX) {
                digits_at = bytes.len() + KEY_PREFIX.len();
            }
            bytes.extend_from_slice(arg);
            bytes.extend_from_slice(b"\r\n");
        }
        Template { bytes, digits_at }
    }

    fn append(&self, key: u64, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let digits = &mut out[start + self.digits_at..][..KEY_DIGITS];
        let mut n = key;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
}

/// Draws and encodes the requests of a run.
pub struct Requests {
    set: Template,
    get: Template,
    mix: Mix,
    keyspace: u64,
    rng: StdRng,
}

impl Requests {
    /// SETs of `value_size`-byte values and GETs in the ratio `mix`, of keys drawn uniformly
    /// from `keyspace` numbers (at most 10^12, the keys' twelve digits).
    pub fn new(mix: Mix, keyspace: u64, value_size: usize, seed: u64) -> Requests {
        assert!(
            (1..=10u64.pow(KEY_DIGITS as u32)).contains(&keyspace),
            "keyspace must be 1..=10^12"
        );
        let key = [KEY_PREFIX, &[b'0'; KEY_DIGITS]].concat();
        Requests {
            set: Template::new(&[b"SET", &key, &vec![b'x'; value_size]]),
            get: Template::new(&[b"GET", &key]),
            mix,
            keyspace,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Appends the next request to `out` and says which command it was.
    pub fn append_next(&mut self, out: &mut Vec<u8>) -> Command {
        let key = self.rng.gen_range(0..self.keyspace);
        let total = self.mix.sets + self.mix.gets;
        if self.rng.gen_range(0..total) < self.mix.sets {
            self.set.append(key, out);
            Command::Set
        } else {
            self.get.append(key, out);
            Command::Get
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_resp2_arrays_with_twelve_digit_keys() {
        let mut only_sets = Requests::new(Mix { sets: 1, gets: 0 }, 1000, 3, 9);
        let mut out = Vec::new();
        assert_eq!(only_sets.append_next(&mut out), Command::Set);
        let text = String::from_utf8(out).unwrap();
        let key = &text[18..34];
        assert_eq!(
            text,
            format!("*3\r\n$3\r\nSET\r\n$16\r\n{key}\r\n$3\r\nxxx\r\n")
        );
        assert!(key.starts_with("key:000000000"), "{key}");

        let mut only_gets = Requests::new(Mix { sets: 0, gets: 1 }, 10u64.pow(12), 3, 9);
        let mut out = Vec::new();
        for _ in 0..100 {
            out.clear();
            assert_eq!(only_gets.append_next(&mut out), Command::Get);
            let text = std::str::from_utf8(&out).unwrap();
            assert!(text.starts_with("*2\r\n$3\r\nGET\r\n$16\r\nkey:"), "{text}");
            assert!(text[22..34].bytes().all(|b| b.is_ascii_digit()), "{text}");
            assert!(text.ends_with("\r\n") && text.len() == 36, "{text}");
        }
    }

    #[test]
    fn the_mix_and_the_keyspace_are_respected() {
        let mut requests = Requests::new("1:3".parse().unwrap(), 50, 16, 5);
        let mut sets = 0;
        let mut keys = std::collections::HashSet::new();
        for _ in 0..40_000 {
            let mut out = Vec::new();
            if requests.append_next(&mut out) == Command::Set {
                sets += 1;
            }
            let text = String::from_utf8(out).unwrap();
            let at = text.find("key:").unwrap();
            keys.insert(text[at..at + 16].to_string());
        }
        // 10,000 expected; the binomial's standard deviation is about 87.
        assert!((9_500..10_500).contains(&sets), "{sets} SETs");
        let expected: std::collections::HashSet<_> =
            (0..50).map(|n| format!("key:{n:012}")).collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn a_mix_is_parsed_or_refused() {
        assert_eq!("1:10".parse(), Ok(Mix { sets: 1, gets: 10 }));
        assert_eq!("0:1".parse(), Ok(Mix { sets: 0, gets: 1 }));
        for bad in ["", "1", "1:", "a:1", "0:0", "-1:2", "1:2:3"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad}");
        }
    }
}
