//! DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis's order-independent SHA-1 fingerprint of a
//! dataset, computed the same way so that the digests of redis-lite and real Redis holding the
//! same data are equal (tests use this to compare datasets across servers and restarts).

use sha1::{Digest as _, Sha1};

use crate::dict::{Entry, StringRef};
use crate::keyspace::Keyspace;
use crate::stream::StreamId;
use crate::value::Value;

pub type Digest = [u8; 20];

/// `digest ^= SHA1(data)`: order-independent accumulation.
fn xor_digest(digest: &mut Digest, data: &[u8]) {
    let hash = Sha1::digest(data);
    for (d, h) in digest.iter_mut().zip(hash) {
        *d ^= h;
    }
}

/// `digest = SHA1(digest ^ SHA1(data))`: order-dependent accumulation.
fn mix_digest(digest: &mut Digest, data: &[u8]) {
    xor_digest(digest, data);
    *digest = Sha1::digest(*digest).into();
}

/// A (member, score) or (field, value) pair's own digest, xor-ed in so order does not matter.
fn xor_pair(digest: &mut Digest, a: &[u8], b: &[u8]) {
    let mut pair = [0u8; 20];
    mix_digest(&mut pair, a);
    mix_digest(&mut pair, b);
    xor_digest(digest, &pair);
}

/// DEBUG DIGEST-VALUE's digest of one key's value: its type, contents, and whether it has a
/// TTL.
pub fn value_digest(entry: &Entry) -> Digest {
    let mut digest = [0u8; 20];
    mix_entry(&mut digest, entry);
    digest
}

/// The type code strings mix in.
const STRING_TYPE: u32 = 0;

/// Mixes an entry's value in: a string read where the entry keeps it (a copy of a long one
/// would be an allocation that counts against maxmemory while the digest runs, and can make
/// the cron evict), the other types through their `Value`.
fn mix_entry(digest: &mut Digest, entry: &Entry) {
    match entry.string() {
        Some(string) => {
            mix_digest(digest, &STRING_TYPE.to_be_bytes());
            mix_string(digest, string);
            mix_expire(digest, entry.has_ttl());
        }
        None => mix_value(digest, &entry.value(), entry.has_ttl()),
    }
}

fn mix_string(digest: &mut Digest, string: StringRef<'_>) {
    match string {
        StringRef::Int(n) => mix_digest(digest, itoa::Buffer::new().format(n).as_bytes()),
        StringRef::Bytes(bytes) => mix_digest(digest, bytes),
    }
}

fn mix_expire(digest: &mut Digest, has_expire: bool) {
    if has_expire {
        xor_digest(digest, b"!!expire!!");
    }
}

/// Mixes a value's type, contents and TTL flag into `digest`.
fn mix_value(digest: &mut Digest, value: &Value, has_expire: bool) {
    let type_code: u32 = match value {
        Value::Int(_) | Value::Str(_) | Value::RawStr(_) => STRING_TYPE,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix_digest(digest, &type_code.to_be_bytes());
    match value {
        &Value::Int(n) => mix_string(digest, StringRef::Int(n)),
        Value::Str(s) => mix_string(digest, StringRef::Bytes(s)),
        Value::RawStr(s) => mix_string(digest, StringRef::Bytes(s)),
        Value::List(list) => {
            for elem in list.iter() {
                mix_digest(digest, &elem.to_vec());
            }
        }
        Value::Set(set) => {
            for member in set.iter() {
                xor_digest(digest, &member.to_bytes());
            }
        }
        Value::ZSet(zset) => {
            let mut score_text = Vec::new();
            zset.range(0, zset.len(), false, |member, score| {
                score_text.clear();
                redis_lite_protocol::number::format_f64(score, &mut score_text);
                xor_pair(digest, member, &score_text);
            });
        }
        Value::Hash(hash) => {
            for (field, value) in hash.iter() {
                xor_pair(digest, field, value);
            }
        }
        // Entries in order: the ID as `ms.seq`, then each field and value; groups are not
        // part of the digest.
        Value::Stream(stream) => {
            let mut id_text = Vec::new();
            for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
                id_text.clear();
                id_text.extend_from_slice(itoa::Buffer::new().format(entry.id.ms).as_bytes());
                id_text.push(b'.');
                id_text.extend_from_slice(itoa::Buffer::new().format(entry.id.seq).as_bytes());
                mix_digest(digest, &id_text);
                for (field, value) in entry.fields() {
                    mix_digest(digest, &field.to_vec());
                    mix_digest(digest, &value.to_vec());
                }
            }
        }
    }
    mix_expire(digest, has_expire);
}

impl Keyspace {
    /// DEBUG DIGEST: all zeros for an empty dataset. Takes every shard lock, so the digest is
    /// of one consistent state.
    pub fn digest(&self) -> Digest {
        let mut total = [0u8; 20];
        let mut all = self.lock_all();
        let mut shards: Vec<_> = all.shards().collect();
        for db in 0..self.databases() {
            if shards.iter().all(|s| s.dbs[db].is_empty()) {
                continue;
            }
            mix_digest(&mut total, &(db as u32).to_be_bytes());
            for shard in shards.iter_mut() {
                for entry in shard.dbs[db].iter() {
                    let mut key_digest = [0u8; 20];
                    mix_digest(&mut key_digest, entry.key());
                    mix_entry(&mut key_digest, entry);
                    xor_digest(&mut total, &key_digest);
                }
            }
        }
        total
    }
}

/// Lower-case hex, as DEBUG prints digests.
pub fn to_hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
