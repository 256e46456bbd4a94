//! RESP2/RESP3 wire protocol for redis-lite. Depends on nothing else in the workspace.
//!
//! Layout:
//! - [`request`]: [`RequestParser`], a resumable parser that turns a client's byte stream into
//!   commands (multibulk or inline) without rescanning a partial frame, with Redis's limits and
//!   its exact protocol error texts.
//! - [`reply`]: [`ReplyWriter`], which encodes replies for the protocol version a client chose,
//!   degrading RESP3-only types (map, set, double, null, push) to their RESP2 forms.
//! - [`response`]: [`Response`] and [`parse_response`], the client side: a RESP2/RESP3 reply
//!   parser for redis-lite-cli.
//! - [`number`]: integer and float text conversions with Redis's rules and formats.
//! - [`repr`](mod@repr): strings quoted and escaped as Redis's `sdscatrepr` shows them (MONITOR,
//!   redis-cli, the AOF manifest).

pub mod number;
pub mod reply;
pub mod repr;
pub mod request;
pub mod response;

pub use reply::{Protocol, ReplyWriter};
pub use repr::repr;
pub use request::{split_args, Limits, ProtocolError, RequestParser};
pub use response::{parse as parse_response, Response, ResponseError};
