//! Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, and the searches (GEORADIUS,
//! GEORADIUSBYMEMBER, their `_RO` forms, GEOSEARCH, GEOSEARCHSTORE). A geo set is a sorted set
//! whose scores are 52-bit geohashes (TYPE says zset); the arithmetic is
//! `redis_lite_engine::geohash`, the set `redis_lite_engine::zset`. This file parses, looks up,
//! replies and stores, in Redis's order of checks.

use std::cmp::Ordering;

use redis_lite_engine::geohash::{self, Search, Shape};
use redis_lite_engine::zset::ZSet;
use redis_lite_protocol::number::{format_fixed, format_human};
use redis_lite_protocol::ReplyWriter;

use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::{CommandSpec, Group, KeySpec};
use crate::commands::access;
use crate::commands::zsets::{self, AddOptions};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

const SEARCH_COST: &str = "O(N+log(M)) where N is the number of elements inside the bounding box \
     of the circular area delimited by center and radius and M is the number of items inside the \
     index.";
const SHAPE_COST: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned \
     bounding box area around the shape provided as the filter and M is the number of items \
     inside the shape";

/// The key spec of a search's source key.
const SOURCE: KeySpec = KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS);
/// GEORADIUS's and GEORADIUSBYMEMBER's keys: the source, and the keys after STORE and
/// STOREDIST, searched from the first optional argument.
const RADIUS_KEYS: [KeySpec; 3] = [
    SOURCE,
    KeySpec::keyword("STORE", 6)
        .range(0, 1, 0)
        .flags(OW | UPDATE),
    KeySpec::keyword("STOREDIST", 6)
        .range(0, 1, 0)
        .flags(OW | UPDATE),
];
const BY_MEMBER_KEYS: [KeySpec; 3] = [
    SOURCE,
    KeySpec::keyword("STORE", 5)
        .range(0, 1, 0)
        .flags(OW | UPDATE),
    KeySpec::keyword("STOREDIST", 5)
        .range(0, 1, 0)
        .flags(OW | UPDATE),
];

/// The history of the commands that take a distance unit.
const UPPERCASE_UNITS: &[(&str, &str)] = &[("7.0.0", "Added support for uppercase unit names.")];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, geoadd)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .doc(Group::Geo, "3.2.0", "Add one or more geospatial items in the geospatial index represented using a sorted set")
        .complexity("O(log(N)) for each item added, where N is the number of elements in the sorted set.")
        .syntax(
            "key condition=[NX | XX]{s=6.2.0} [CH{s=6.2.0 n=change}] \
             longitude_latitude_member=(longitude:double latitude:double member)...",
        )
        .history(&[
            ("6.2.0", "Added the `CH`, `NX` and `XX` options."),
        ]),
    CommandSpec::new("geodist", -4, READONLY, geodist)
        .key_specs(&[SOURCE])
        .doc(Group::Geo, "3.2.0", "Returns the distance between two members of a geospatial index")
        .complexity("O(log(N))")
        .syntax("key member1 member2 unit=[M | KM | FT | MI]"),
    CommandSpec::new("geohash", -2, READONLY, geohash)
        .key_specs(&[SOURCE])
        .doc(Group::Geo, "3.2.0", "Returns members of a geospatial index as standard geohash strings")
        .complexity("O(log(N)) for each member requested, where N is the number of elements in the sorted set.")
        .syntax("key member..."),
    CommandSpec::new("geopos", -2, READONLY, geopos)
        .key_specs(&[SOURCE])
        .doc(Group::Geo, "3.2.0", "Returns longitude and latitude of members of a geospatial index")
        .complexity("O(N) where N is the number of members requested.")
        .syntax("key member..."),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM, georadius)
        .key_specs(&RADIUS_KEYS)
        .doc(Group::Geo, "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point")
        .complexity(SEARCH_COST)
        .syntax(
            "key longitude:double latitude:double radius:double unit=(M | KM | FT | MI) \
             [WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count:integer [ANY{s=6.2.0}]] \
             order=[ASC | DESC] [STORE key{k=1}] [STOREDIST key{k=2}]",
        )
        .history(&[
            ("6.2.0", "Added the `ANY` option for `COUNT`."),
            ("7.0.0", "Added support for uppercase unit names."),
        ])
        .deprecated(&("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument")),
    CommandSpec::new("georadius_ro", -6, READONLY, georadius_ro)
        .key_specs(&[SOURCE])
        .doc(Group::Geo, "3.2.10", "A read-only variant for GEORADIUS")
        .complexity(SEARCH_COST)
        .syntax(
            "key longitude:double latitude:double radius:double unit=(M | KM | FT | MI) \
             [WITHCOORD] [WITHDIST] [WITHHASH] count=[COUNT count:integer [ANY{s=6.2.0}]] \
             order=[ASC | DESC]",
        )
        .history(&[
            ("6.2.0", "Added the `ANY` option for `COUNT`."),
        ])
        .deprecated(&("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument")),
    CommandSpec::new("georadiusbymember", -5, WRITE | DENYOOM, georadiusbymember)
        .key_specs(&BY_MEMBER_KEYS)
        .doc(Group::Geo, "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member")
        .complexity(SEARCH_COST)
        .syntax(
            "key member radius:double unit=(M | KM | FT | MI) [WITHCOORD] [WITHDIST] [WITHHASH] \
             count=[COUNT count:integer [ANY]] order=[ASC | DESC] [STORE key{k=1}] [STOREDIST \
             key{k=2}]",
        )
        .history(UPPERCASE_UNITS)
        .deprecated(&("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments")),
    CommandSpec::new("georadiusbymember_ro", -5, READONLY, georadiusbymember_ro)
        .key_specs(&[SOURCE])
        .doc(Group::Geo, "3.2.10", "A read-only variant for GEORADIUSBYMEMBER")
        .complexity(SEARCH_COST)
        .syntax(
            "key member radius:double unit=(M | KM | FT | MI) [WITHCOORD] [WITHDIST] [WITHHASH] \
             count=[COUNT count:integer [ANY]] order=[ASC | DESC]",
        )
        .deprecated(&("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments")),
    CommandSpec::new("geosearch", -7, READONLY, geosearch)
        .key_specs(&[SOURCE])
        .doc(Group::Geo, "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.")
        .complexity(SHAPE_COST)
        .syntax(
            "key from=(FROMMEMBER member | FROMLONLAT longitude_latitude=(longitude:double \
             latitude:double)) by=(circle=(BYRADIUS radius:double unit=(M | KM | FT | MI)) | \
             box=((BYBOX width:double) height:double unit=(M | KM | FT | MI))) order=[ASC | DESC] \
             count=[COUNT count:integer [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]",
        )
        .history(UPPERCASE_UNITS),
    CommandSpec::new("geosearchstore", -8, WRITE | DENYOOM, geosearchstore)
        .key_specs(&[
            KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE),
            KeySpec::index(2).range(0, 1, 0).flags(RO | ACCESS),
        ])
        .doc(Group::Geo, "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.")
        .complexity(SHAPE_COST)
        .syntax(
            "destination:key source:key{k=1} from=(FROMMEMBER member | FROMLONLAT \
             longitude_latitude=(longitude:double latitude:double)) by=(circle=(BYRADIUS \
             radius:double unit=(M | KM | FT | MI)) | box=((BYBOX width:double) height:double \
             unit=(M | KM | FT | MI))) order=[ASC | DESC] count=[COUNT count:integer [ANY]] \
             [STOREDIST]",
        )
        .history(UPPERCASE_UNITS),
];

// ---------------------------------------------------------------------------------------------
// Arguments shared by the commands.
// ---------------------------------------------------------------------------------------------

/// A coordinate in C's `%f`, as Redis's error texts print them.
fn six_decimals(value: f64) -> String {
    let mut text = Vec::new();
    format_fixed(value, 6, &mut text);
    String::from_utf8(text).expect("printf output is ASCII")
}

/// The longitude and latitude at arguments `i` and `i + 1`, each a float, together within the
/// Mercator limits.
fn arg_coordinates(ctx: &Ctx<'_>, i: usize) -> Result<(f64, f64), CommandError> {
    let longitude = zsets::arg_score(ctx, i)?;
    let latitude = zsets::arg_score(ctx, i + 1)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&longitude)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&latitude)
    {
        return Err(CommandError::err(format!(
            "invalid longitude,latitude pair {},{}",
            six_decimals(longitude),
            six_decimals(latitude)
        )));
    }
    Ok((longitude, latitude))
}

/// Meters per unit of the unit at argument `i`.
fn arg_unit(ctx: &Ctx<'_>, i: usize) -> Result<f64, CommandError> {
    const UNITS: [(&str, f64); 4] = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    UNITS
        .iter()
        .find(|(name, _)| ctx.arg_is(i, name))
        .map(|&(_, to_meters)| to_meters)
        .ok_or(CommandError::err(
            "unsupported unit provided. please use M, KM, FT, MI",
        ))
}

/// A non-negative size at argument `i`, or `message` when it is not a number.
fn arg_size(ctx: &Ctx<'_>, i: usize, message: &'static str) -> Result<f64, CommandError> {
    zsets::parse_score(ctx.arg(i)).ok_or(CommandError::err(message))
}

/// A radius and its unit at arguments `i` and `i + 1`: (radius, meters per unit).
fn arg_radius(ctx: &Ctx<'_>, i: usize) -> Result<(f64, f64), CommandError> {
    let radius = arg_size(ctx, i, "need numeric radius")?;
    if radius < 0.0 {
        return Err(CommandError::err("radius cannot be negative"));
    }
    Ok((radius, arg_unit(ctx, i + 1)?))
}

/// A box's width, height and unit at arguments `i..i + 3`: (shape, meters per unit).
fn arg_box(ctx: &Ctx<'_>, i: usize) -> Result<(Shape, f64), CommandError> {
    let width = arg_size(ctx, i, "need numeric width")?;
    let height = arg_size(ctx, i + 1, "need numeric height")?;
    if width < 0.0 || height < 0.0 {
        return Err(CommandError::err("height or width cannot be negative"));
    }
    Ok((Shape::Box { width, height }, arg_unit(ctx, i + 2)?))
}

/// The stored position of `member`, or the error a search from it gives.
fn member_position(set: &ZSet, member: &[u8]) -> Result<(f64, f64), CommandError> {
    set.score(member)
        .map(geohash::position)
        .ok_or(CommandError::err("could not decode requested zset member"))
}

/// A coordinate as Redis replies with it: a double in RESP3, a bulk string in RESP2.
fn reply_coordinate(out: &mut ReplyWriter<'_>, value: f64) {
    let mut text = Vec::with_capacity(24);
    format_human(value, &mut text);
    out.double_text(&text);
}

/// A distance as Redis replies with it: four decimals, a bulk string in both protocols.
fn reply_distance(out: &mut ReplyWriter<'_>, meters: f64) {
    let mut text = Vec::with_capacity(24);
    format_fixed(meters, 4, &mut text);
    out.bulk(&text);
}

// ---------------------------------------------------------------------------------------------
// GEOADD, GEODIST, GEOHASH, GEOPOS.
// ---------------------------------------------------------------------------------------------

/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
///
/// Redis's GEOADD is a ZADD of the members' scores, and is logged as that ZADD (its options as
/// sent, the scores as integers), so a replica or an AOF replays it without the geo arithmetic.
fn geoadd(ctx: &mut Ctx<'_>) -> CmdResult {
    let mut o = AddOptions::default();
    let mut first = 2;
    while first < ctx.arg_count() {
        match () {
            _ if ctx.arg_is(first, "NX") => o.nx = true,
            _ if ctx.arg_is(first, "XX") => o.xx = true,
            _ if ctx.arg_is(first, "CH") => o.ch = true,
            _ => break,
        }
        first += 1;
    }
    let rest = ctx.arg_count() - first;
    if !rest.is_multiple_of(3) || (o.nx && o.xx) {
        return Err(CommandError::Syntax);
    }
    let mut pairs = Vec::with_capacity(rest / 3);
    for i in (first..ctx.arg_count()).step_by(3) {
        let (longitude, latitude) = arg_coordinates(ctx, i)?;
        let score = geohash::score(longitude, latitude).expect("checked within the limits");
        pairs.push((score, ctx.arg(i + 2)));
    }
    if pairs.is_empty() {
        return Err(CommandError::Syntax);
    }
    let mut logged: Vec<Vec<u8>> = Vec::with_capacity(first + 2 * pairs.len());
    logged.push(b"zadd".to_vec());
    logged.extend(ctx.args[1..first].iter().map(|a| a.to_vec()));
    for &(score, member) in &pairs {
        logged.push(itoa::Buffer::new().format(score).as_bytes().to_vec());
        logged.push(member.to_vec());
    }
    ctx.propagate_as(&logged);
    let pairs: Vec<(f64, &[u8])> = pairs.into_iter().map(|(s, m)| (s as f64, m)).collect();
    zsets::add(ctx, &o, &pairs)
}

/// GEODIST key member1 member2 [M | KM | FT | MI]
fn geodist(ctx: &mut Ctx<'_>) -> CmdResult {
    let to_meters = match ctx.arg_count() {
        4 => 1.0,
        5 => arg_unit(ctx, 4)?,
        _ => return Err(CommandError::Syntax),
    };
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let set = access::read::<ZSet>(ctx, db, hash, key)?;
    let scores = set.and_then(|z| Some((z.score(ctx.arg(2))?, z.score(ctx.arg(3))?)));
    let Some((a, b)) = scores else {
        ctx.out.null();
        return Ok(());
    };
    let ((long1, lat1), (long2, lat2)) = (geohash::position(a), geohash::position(b));
    reply_distance(
        &mut ctx.out,
        geohash::distance(long1, lat1, long2, lat2) / to_meters,
    );
    Ok(())
}

/// GEOHASH key [member ...]
fn geohash(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let set = access::read::<ZSet>(ctx, db, hash, key)?;
    ctx.out.array(ctx.arg_count() - 2);
    for member in &ctx.args[2..] {
        match set.and_then(|z| z.score(member)) {
            Some(score) => ctx.out.bulk(&geohash::standard_hash(score)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...]
fn geopos(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let set = access::read::<ZSet>(ctx, db, hash, key)?;
    ctx.out.array(ctx.arg_count() - 2);
    for member in &ctx.args[2..] {
        match set.and_then(|z| z.score(member)).map(geohash::position) {
            Some((longitude, latitude)) => {
                ctx.out.array(2);
                reply_coordinate(&mut ctx.out, longitude);
                reply_coordinate(&mut ctx.out, latitude);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The searches.
// ---------------------------------------------------------------------------------------------

/// Which search command runs: where its centre and shape come from, and what it may store.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO] key longitude latitude radius unit ...
    RadiusFromPoint { read_only: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    RadiusFromMember { read_only: bool },
    /// GEOSEARCH key ... and GEOSEARCHSTORE destination source ...
    Search { store: bool },
}

impl Form {
    fn source_at(self) -> usize {
        match self {
            Form::Search { store: true } => 2,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    Asc,
    Desc,
}

/// Where a search stores its result: the key, and whether the scores are the distances
/// (STOREDIST) rather than the geohashes.
#[derive(Clone, Copy)]
struct StoreTo<'a> {
    key: &'a [u8],
    distances: bool,
}

/// A search's arguments, parsed.
struct Query<'a> {
    /// The centre and shape; None when the source key is missing and they were not needed.
    search: Option<Search>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Option<Order>,
    /// Stop at `count` matches instead of finding the nearest `count`.
    any: bool,
    /// At most this many results; 0 for all.
    count: u64,
    store: Option<StoreTo<'a>>,
}

impl<'a> Query<'a> {
    /// Parses a search's arguments as Redis does, errors in its order. `set` is the source
    /// sorted set; without one (a missing key) a centre member is not looked up, and
    /// GEORADIUSBYMEMBER's radius is not even read, as in Redis.
    fn parse(ctx: &Ctx<'a>, form: Form, set: Option<&ZSet>) -> Result<Self, CommandError> {
        let mut centre = None;
        let mut shape = None;
        let base = match form {
            Form::RadiusFromPoint { .. } => {
                centre = Some(arg_coordinates(ctx, 2)?);
                let (radius, to_meters) = arg_radius(ctx, 4)?;
                shape = Some((Shape::Radius(radius), to_meters));
                6
            }
            Form::RadiusFromMember { .. } => {
                if let Some(set) = set {
                    centre = Some(member_position(set, ctx.arg(2))?);
                    let (radius, to_meters) = arg_radius(ctx, 3)?;
                    shape = Some((Shape::Radius(radius), to_meters));
                }
                5
            }
            Form::Search { store } => 2 + usize::from(store),
        };
        let may_store = matches!(
            form,
            Form::RadiusFromPoint { read_only: false }
                | Form::RadiusFromMember { read_only: false }
        );
        let searching = matches!(form, Form::Search { .. });
        let mut query = Query {
            search: None,
            with_dist: false,
            with_hash: false,
            with_coord: false,
            order: None,
            any: false,
            count: 0,
            store: match form {
                Form::Search { store: true } => Some(StoreTo {
                    key: ctx.arg(1),
                    distances: false,
                }),
                _ => None,
            },
        };
        let (mut from_member, mut from_point, mut by_radius, mut by_box) =
            (false, false, false, false);
        let argc = ctx.arg_count();
        let mut i = base;
        while i < argc {
            // How many arguments follow this one.
            let after = argc - i - 1;
            match () {
                _ if ctx.arg_is(i, "WITHDIST") => query.with_dist = true,
                _ if ctx.arg_is(i, "WITHHASH") => query.with_hash = true,
                _ if ctx.arg_is(i, "WITHCOORD") => query.with_coord = true,
                _ if ctx.arg_is(i, "ANY") => query.any = true,
                _ if ctx.arg_is(i, "ASC") => query.order = Some(Order::Asc),
                _ if ctx.arg_is(i, "DESC") => query.order = Some(Order::Desc),
                _ if ctx.arg_is(i, "COUNT") && after >= 1 => {
                    let count = ctx.arg_i64(i + 1)?;
                    if count <= 0 {
                        return Err(CommandError::err("COUNT must be > 0"));
                    }
                    query.count = count as u64;
                    i += 1;
                }
                _ if (ctx.arg_is(i, "STORE") || ctx.arg_is(i, "STOREDIST"))
                    && after >= 1
                    && may_store =>
                {
                    query.store = Some(StoreTo {
                        key: ctx.arg(i + 1),
                        distances: ctx.arg_is(i, "STOREDIST"),
                    });
                    i += 1;
                }
                _ if ctx.arg_is(i, "STOREDIST") && form == (Form::Search { store: true }) => {
                    if let Some(store) = &mut query.store {
                        store.distances = true;
                    }
                }
                _ if ctx.arg_is(i, "FROMMEMBER") && after >= 1 && searching && !from_point => {
                    if let Some(set) = set {
                        centre = Some(member_position(set, ctx.arg(i + 1))?);
                    }
                    from_member = true;
                    i += 1;
                }
                _ if ctx.arg_is(i, "FROMLONLAT") && after >= 2 && searching && !from_member => {
                    centre = Some(arg_coordinates(ctx, i + 1)?);
                    from_point = true;
                    i += 2;
                }
                _ if ctx.arg_is(i, "BYRADIUS") && after >= 2 && searching && !by_box => {
                    let (radius, to_meters) = arg_radius(ctx, i + 1)?;
                    shape = Some((Shape::Radius(radius), to_meters));
                    by_radius = true;
                    i += 2;
                }
                _ if ctx.arg_is(i, "BYBOX") && after >= 3 && searching && !by_radius => {
                    shape = Some(arg_box(ctx, i + 1)?);
                    by_box = true;
                    i += 3;
                }
                _ => return Err(CommandError::Syntax),
            }
            i += 1;
        }
        if query.store.is_some() && (query.with_dist || query.with_hash || query.with_coord) {
            return Err(CommandError::err(format!(
                "{} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                if searching {
                    "GEOSEARCHSTORE"
                } else {
                    "STORE option in GEORADIUS"
                }
            )));
        }
        let name = String::from_utf8_lossy(ctx.arg(0));
        if searching && !(from_member || from_point) {
            return Err(CommandError::err(format!(
                "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
            )));
        }
        if searching && !(by_radius || by_box) {
            return Err(CommandError::err(format!(
                "exactly one of BYRADIUS and BYBOX can be specified for {name}"
            )));
        }
        if query.any && query.count == 0 {
            return Err(CommandError::err(
                "the ANY argument requires COUNT argument",
            ));
        }
        if let (Some((longitude, latitude)), Some((shape, to_meters))) = (centre, shape) {
            query.search = Some(Search {
                longitude,
                latitude,
                shape,
                to_meters,
            });
        }
        Ok(query)
    }
}

/// A point a search found.
struct Found<'z> {
    member: &'z [u8],
    score: f64,
    longitude: f64,
    latitude: f64,
    /// From the centre, in meters.
    distance: f64,
}

/// The members of `set` within `search`, cell by cell in Redis's order; with `limit` (ANY),
/// the first `limit` found.
fn find<'z>(set: &'z ZSet, search: &Search, limit: u64) -> Vec<Found<'z>> {
    let mut found = Vec::new();
    let full = |found: &Vec<Found<'_>>| limit > 0 && found.len() as u64 >= limit;
    for cell in search.cells() {
        if full(&found) {
            break;
        }
        let (start, end) = geohash::score_range(cell);
        let first = set.count_while(|score, _| score < start);
        let past = set.count_while(|score, _| score < end);
        set.range(first, past, false, |member, score| {
            if full(&found) {
                return;
            }
            let (longitude, latitude) = geohash::position(score);
            if let Some(distance) = search.distance_if_within(longitude, latitude) {
                found.push(Found {
                    member,
                    score,
                    longitude,
                    latitude,
                    distance,
                });
            }
        });
    }
    found
}

/// GEORADIUS, GEORADIUSBYMEMBER, their `_RO` forms, GEOSEARCH and GEOSEARCHSTORE.
fn search(ctx: &mut Ctx<'_>, form: Form) -> CmdResult {
    let source = ctx.arg(form.source_at());
    // The destination is known only from the arguments, which Redis reads after the source
    // key's lookup: found first without the set (which stops at the same syntax as with it),
    // so that both keys are locked together.
    let destination = Query::parse(ctx, form, None)
        .ok()
        .and_then(|q| q.store)
        .map(|store| store.key);
    let mut locked = match destination {
        // Redis's key specs name the key after the first STORE or STOREDIST while its parser
        // keeps the last: the key written is locked whether the specs name it or not.
        Some(dest) if !declares(ctx, dest) => ctx.lock_undeclared([source, dest]),
        Some(dest) => ctx.lock([source, dest]),
        None => ctx.lock([source]),
    };
    let (db, hash) = locked.db(ctx.client.db, source);
    let set = access::read::<ZSet>(ctx, db, hash, source)?;
    let query = Query::parse(ctx, form, set)?;
    let event = match form {
        Form::Search { .. } => "geosearchstore",
        _ => "georadiusstore",
    };
    let (Some(set), Some(search)) = (set, query.search) else {
        // A missing source: an empty reply, or an empty result stored (deleting the
        // destination).
        match query.store {
            Some(store) => zsets::store(ctx, &mut locked, store.key, Vec::new(), event, 1),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    // The nearest `count` need an order; ANY takes whichever come first.
    let order = match query.order {
        None if query.count > 0 && !query.any => Some(Order::Asc),
        order => order,
    };
    let mut found = find(set, &search, if query.any { query.count } else { 0 });
    if found.is_empty() && query.store.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let returned = match usize::try_from(query.count) {
        Ok(count) if count > 0 => count.min(found.len()),
        _ => found.len(),
    };
    if let Some(order) = order {
        // Compared on distance alone, as Redis's sort callbacks compare, so members at equal
        // distances come out in the order Redis's sorts leave them: all results are sorted
        // with glibc's qsort, a stable merge sort; the nearest COUNT of more with Redis's
        // partial quicksort, which reorders equal ones (see `partial_quicksort`).
        let compare = |a: &Found<'_>, b: &Found<'_>| {
            let ascending = a
                .distance
                .partial_cmp(&b.distance)
                .unwrap_or(Ordering::Less);
            match order {
                Order::Asc => ascending,
                Order::Desc => ascending.reverse(),
            }
        };
        if returned == found.len() {
            found.sort_by(compare);
        } else {
            partial_quicksort(&mut found, returned, &compare);
        }
    }
    found.truncate(returned);
    let to_meters = search.to_meters;
    if let Some(store) = query.store {
        let items: Vec<(Vec<u8>, f64)> = found
            .iter()
            .map(|f| {
                let score = if store.distances {
                    f.distance / to_meters
                } else {
                    f.score
                };
                (f.member.to_vec(), score)
            })
            .collect();
        let changes = items.len() as u64;
        zsets::store(ctx, &mut locked, store.key, items, event, changes);
        return Ok(());
    }
    let options = [query.with_dist, query.with_hash, query.with_coord]
        .iter()
        .filter(|&&on| on)
        .count();
    let out = &mut ctx.out;
    out.array(found.len());
    for f in &found {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(f.member);
        if query.with_dist {
            reply_distance(out, f.distance / to_meters);
        }
        if query.with_hash {
            out.integer(f.score as i64);
        }
        if query.with_coord {
            out.array(2);
            reply_coordinate(out, f.longitude);
            reply_coordinate(out, f.latitude);
        }
    }
    Ok(())
}

/// Whether the running command's key specs name `key`.
fn declares(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    ctx.command
        .spec
        .key_positions(ctx.args)
        .unwrap_or_default()
        .iter()
        .any(|&pos| ctx.args[pos] == key)
}

/// GEORADIUS key longitude latitude radius unit [WITHCOORD] [WITHDIST] [WITHHASH]
/// [COUNT count [ANY]] [ASC | DESC] [STORE key] [STOREDIST key]
fn georadius(ctx: &mut Ctx<'_>) -> CmdResult {
    search(ctx, Form::RadiusFromPoint { read_only: false })
}

/// GEORADIUS_RO: GEORADIUS without STORE.
fn georadius_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    search(ctx, Form::RadiusFromPoint { read_only: true })
}

/// GEORADIUSBYMEMBER key member radius unit [options as GEORADIUS]
fn georadiusbymember(ctx: &mut Ctx<'_>) -> CmdResult {
    search(ctx, Form::RadiusFromMember { read_only: false })
}

/// GEORADIUSBYMEMBER_RO: GEORADIUSBYMEMBER without STORE.
fn georadiusbymember_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    search(ctx, Form::RadiusFromMember { read_only: true })
}

/// GEOSEARCH key FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius unit |
/// BYBOX width height unit [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
fn geosearch(ctx: &mut Ctx<'_>) -> CmdResult {
    search(ctx, Form::Search { store: false })
}

/// GEOSEARCHSTORE destination source [GEOSEARCH's arguments, without WITH*] [STOREDIST]
fn geosearchstore(ctx: &mut Ctx<'_>) -> CmdResult {
    search(ctx, Form::Search { store: true })
}

/// Puts the `keep` (at least 1) smallest of `items` first, in order, exactly as Redis's
/// `pqsort` does for a search with COUNT: Bentley and McIlroy's quicksort (as in BSD's
/// `qsort`: insertion sort below 7 items, the median of three or, above 40, of three medians
/// for pivot, equal keys gathered at both ends and swapped into the middle) that only recurses
/// into the parts overlapping the first `keep` places. The same algorithm leaves equal items in
/// the same places, so ties come out in Redis's order; the rest of the slice is left unordered.
fn partial_quicksort<T>(items: &mut [T], keep: usize, compare: &impl Fn(&T, &T) -> Ordering) {
    let len = items.len();
    sort_part(items, 0, len, &(0..keep), compare);
}

/// [`partial_quicksort`] on the `n` items from `start`, where `wanted` are the places whose
/// items must end up sorted.
fn sort_part<T>(
    items: &mut [T],
    mut start: usize,
    mut n: usize,
    wanted: &std::ops::Range<usize>,
    compare: &impl Fn(&T, &T) -> Ordering,
) {
    loop {
        if n < 7 {
            for m in start + 1..start + n {
                let mut at = m;
                while at > start && compare(&items[at - 1], &items[at]) == Ordering::Greater {
                    items.swap(at, at - 1);
                    at -= 1;
                }
            }
            return;
        }
        let mut pivot = start + n / 2;
        if n > 7 {
            let (mut low, mut high) = (start, start + n - 1);
            if n > 40 {
                let d = n / 8;
                low = median_of_three(items, low, low + d, low + 2 * d, compare);
                pivot = median_of_three(items, pivot - d, pivot, pivot + d, compare);
                high = median_of_three(items, high - 2 * d, high - d, high, compare);
            }
            pivot = median_of_three(items, low, pivot, high, compare);
        }
        items.swap(start, pivot);
        // [start+1, a) equal to the pivot, [a, b) less, (c, d] greater, (d, end) equal.
        let (mut a, mut b) = (start + 1, start + 1);
        let (mut c, mut d) = (start + n - 1, start + n - 1);
        loop {
            while b <= c {
                match compare(&items[b], &items[start]) {
                    Ordering::Greater => break,
                    Ordering::Equal => {
                        items.swap(a, b);
                        a += 1;
                    }
                    Ordering::Less => {}
                }
                b += 1;
            }
            while b <= c {
                match compare(&items[c], &items[start]) {
                    Ordering::Less => break,
                    Ordering::Equal => {
                        items.swap(c, d);
                        d -= 1;
                    }
                    Ordering::Greater => {}
                }
                c -= 1;
            }
            if b > c {
                break;
            }
            items.swap(b, c);
            b += 1;
            c -= 1;
        }
        let end = start + n;
        let moved = (a - start).min(b - a);
        swap_runs(items, start, b - moved, moved);
        let moved = (d - c).min(end - d - 1);
        swap_runs(items, b, end - moved, moved);
        let overlaps = |from: usize, len: usize| from < wanted.end && wanted.start < from + len;
        let less = b - a;
        if less > 1 && overlaps(start, less) {
            sort_part(items, start, less, wanted, compare);
        }
        let greater = d - c;
        if greater > 1 && overlaps(end - greater, greater) {
            start = end - greater;
            n = greater;
            continue;
        }
        return;
    }
}

/// Which of the items at `a`, `b` and `c` holds the median, chosen as BSD's `med3` chooses.
fn median_of_three<T>(
    items: &[T],
    a: usize,
    b: usize,
    c: usize,
    compare: &impl Fn(&T, &T) -> Ordering,
) -> usize {
    let less = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Less;
    let greater = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Greater;
    if less(a, b) {
        if less(b, c) {
            b
        } else if less(a, c) {
            c
        } else {
            a
        }
    } else if greater(b, c) {
        b
    } else if less(a, c) {
        a
    } else {
        c
    }
}

/// Swaps the `n` items from `a` with the `n` items from `b`, pairwise.
fn swap_runs<T>(items: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        items.swap(a + i, b + i);
    }
}
