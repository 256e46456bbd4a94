//! Geo commands: differential scripts against real Redis (RESP2 and RESP3) for every command,
//! option and error; a seeded random run of thousands of points and searches around the globe
//! (poles, the antimeridian, every scale of radius and box), which proves the geohash
//! arithmetic, the cells a search scans and the number formats broadly; the command table's
//! entries; keyspace notifications; and what is logged (GEOADD as its ZADD, a STORE search as
//! sent).
use redis_lite_testkit as testkit;

use redis_lite_engine::geohash;
use testkit::{differential, differential_both_protocols, differential_generated, DataDir, Server};

#[test]
fn add_and_lookups() {
    differential_both_protocols(testkit::script!("geo/add_and_lookups"));
}

#[test]
fn searches() {
    differential_both_protocols(testkit::script!("geo/searches"));
}

#[test]
fn stores() {
    differential_both_protocols(testkit::script!("geo/stores"));
}

/// COMMAND INFO (flags, key specs, ACL categories) of every geo command, the keys GETKEYS finds
/// in the STORE forms, and COMMAND DOCS where the spec table can say what Redis says. Not
/// compared: the DOCS of GEOADD, GEORADIUS* and GEOSEARCH*, which carry history entries,
/// deprecation and per-argument `since` fields that CommandSpec has no field for.
#[test]
fn command_table_matches_redis() {
    let names = [
        "geoadd",
        "geodist",
        "geohash",
        "geopos",
        "georadius",
        "georadius_ro",
        "georadiusbymember",
        "georadiusbymember_ro",
        "geosearch",
        "geosearchstore",
    ];
    let mut script: Vec<Vec<&str>> = names.iter().map(|n| vec!["COMMAND", "INFO", n]).collect();
    script.extend(
        ["geodist", "geohash", "geopos"]
            .iter()
            .map(|n| vec!["COMMAND", "DOCS", n]),
    );
    script.extend([
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "STORE",
            "a",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "store",
            "a",
            "STORE",
            "b",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "STORE",
            "a",
            "STOREDIST",
            "b",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "k",
            "0",
            "0",
            "1",
            "km",
            "COUNT",
            "5",
            "STORE",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUSBYMEMBER",
            "k",
            "m",
            "1",
            "km",
            "STOREDIST",
            "a",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEOSEARCHSTORE",
            "d",
            "s",
            "FROMMEMBER",
            "m",
            "BYRADIUS",
            "1",
            "km",
        ],
        vec!["COMMAND", "GETKEYS", "GEOADD", "k", "1", "1", "m"],
    ]);
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&script, false);
}

#[test]
fn keyspace_notifications_match_redis() {
    testkit::differential_notifications(&[
        &[
            "GEOADD",
            "g",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
        &["GEOADD", "g", "XX", "1", "1", "nope"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "d"],
        &["GEORADIUS", "g", "15", "37", "1", "km", "STORE", "d"],
        &["GEORADIUS", "g", "15", "37", "1", "km", "STORE", "d"],
        &[
            "GEORADIUSBYMEMBER",
            "g",
            "Palermo",
            "300",
            "km",
            "STORE",
            "e",
        ],
        &["GEORADIUS", "missing", "15", "37", "1", "km", "STORE", "e"],
        &[
            "GEOSEARCHSTORE",
            "f",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
        ],
        &[
            "GEOSEARCHSTORE",
            "f",
            "g",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEOPOS", "missing", "a"],
    ]);
}

/// What the AOF records, compared byte for byte with Redis's: GEOADD as the ZADD it performs
/// (options as sent, integer scores), nothing for a GEOADD that changed nothing or a search
/// that stores nothing into a missing key, and the STORE searches as sent. The change counter
/// counts as Redis's does (one per stored member for the searches).
#[test]
fn aof_records_and_change_counts_match_redis() {
    let script: &[&[&str]] = &[
        &[
            "GEOADD",
            "g",
            "nx",
            "CH",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
        &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
        &["GEOADD", "g", "XX", "13", "38", "Palermo", "1", "1", "nope"],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d"],
        &["GEORADIUS", "g", "15", "37", "200", "km"],
        &["GEORADIUS_RO", "g", "15", "37", "200", "km"],
        &["GEORADIUS", "g", "15", "37", "1", "km", "STOREDIST", "d"],
        &["GEORADIUS", "g", "15", "37", "1", "km", "STOREDIST", "d"],
        &[
            "GEORADIUSBYMEMBER",
            "g",
            "Palermo",
            "300",
            "km",
            "STOREDIST",
            "e",
        ],
        &[
            "GEOSEARCHSTORE",
            "f",
            "g",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "STOREDIST",
        ],
        &[
            "GEOSEARCH",
            "g",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
        ],
    ];
    let run = |server: &Server| {
        let mut raw = server.raw();
        for cmd in script {
            raw.cmd(cmd);
        }
        let info = raw.cmd_text(&["INFO", "persistence"]);
        info.lines()
            .find(|l| l.starts_with("rdb_changes_since_last_save:"))
            .expect("INFO persistence has the change count")
            .to_string()
    };
    let aof = |dir: &DataDir| {
        std::fs::read(dir.0.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap()
    };
    let args = |dir: &DataDir| {
        vec![
            "--dir".to_string(),
            dir.path().to_string(),
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
        ]
    };
    let lite_dir = DataDir::new("geo-aof-lite");
    let lite_args = args(&lite_dir);
    let lite_args: Vec<&str> = lite_args.iter().map(String::as_str).collect();
    let lite = Server::lite(&lite_args);
    let lite_changes = run(&lite);
    let lite_aof = aof(&lite_dir);
    assert!(
        String::from_utf8_lossy(&lite_aof).contains(
            "$4\r\nzadd\r\n$1\r\ng\r\n$2\r\nnx\r\n$2\r\nCH\r\n$16\r\n3479099956230698\r\n"
        ),
        "GEOADD is logged as its ZADD: {}",
        String::from_utf8_lossy(&lite_aof)
    );
    let redis_dir = DataDir::new("geo-aof-redis");
    let redis_args = args(&redis_dir);
    let redis_args: Vec<&str> = redis_args.iter().map(String::as_str).collect();
    let Some(redis) = Server::redis(&redis_args) else {
        return;
    };
    assert_eq!(lite_changes, run(&redis));
    assert_eq!(
        String::from_utf8_lossy(&lite_aof),
        String::from_utf8_lossy(&aof(&redis_dir))
    );
}

/// A seeded xorshift generator: the same script on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[min, max]`.
    fn between(&mut self, min: f64, max: f64) -> f64 {
        min + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (max - min)
    }
}

const LAT_LIMIT: f64 = 85.05112878;

/// Places where points cluster, so that small searches find something: the antimeridian on
/// both sides, near both poles' limits, the equator at 0°, and ordinary cities.
const HOTSPOTS: [(f64, f64); 10] = [
    (180.0, 0.0),
    (-180.0, 45.0),
    (179.5, -60.0),
    (0.0, 84.9),
    (90.0, -84.9),
    (0.0, 0.0),
    (13.361389, 38.115556),
    (-74.006, 40.7128),
    (139.6917, 35.6895),
    (-58.3816, -34.6037),
];

/// A point: uniform over the Mercator square, near a hotspot (at scales from meters to a few
/// degrees), or on one of the square's edges.
fn point(rng: &mut Rng) -> (f64, f64) {
    match rng.below(10) {
        0..=3 => (
            rng.between(-180.0, 180.0),
            rng.between(-LAT_LIMIT, LAT_LIMIT),
        ),
        4..=8 => {
            let (long, lat) = HOTSPOTS[rng.below(HOTSPOTS.len() as u64) as usize];
            let spread = 10f64.powf(rng.between(-5.0, 0.5));
            (
                (long + rng.between(-spread, spread)).clamp(-180.0, 180.0),
                (lat + rng.between(-spread, spread)).clamp(-LAT_LIMIT, LAT_LIMIT),
            )
        }
        _ => {
            let edge = [-180.0, 180.0, 0.0][rng.below(3) as usize];
            let pole = [-LAT_LIMIT, LAT_LIMIT, 0.0][rng.below(3) as usize];
            match rng.below(3) {
                0 => (edge, rng.between(-LAT_LIMIT, LAT_LIMIT)),
                1 => (rng.between(-180.0, 180.0), pole),
                _ => (edge, pole),
            }
        }
    }
}

/// A size in meters from 0.1 m to 25,000 km, evenly over the orders of magnitude, with its
/// text in a random unit.
fn size(rng: &mut Rng) -> String {
    const UNITS: [(&str, f64); 4] = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    let meters = 10f64.powf(rng.between(-1.0, 7.4));
    let (unit, to_meters) = UNITS[rng.below(4) as usize];
    format!("{} {unit}", meters / to_meters)
}

/// `count` points in distinct cells (see [`random_script`]) as GEOADD arguments, 100 a command.
fn distinct_points(rng: &mut Rng, key: &str, count: usize) -> Vec<Vec<String>> {
    let mut cells = std::collections::HashSet::new();
    let mut args = Vec::new();
    while cells.len() < count {
        let (long, lat) = point(rng);
        // As the set stores it: scores past 2^53 (at longitude 180) round.
        let stored = geohash::score(long, lat).map(|score| (score as f64).to_bits());
        if cells.insert(stored) {
            args.push([
                long.to_string(),
                lat.to_string(),
                format!("p{}", cells.len() - 1),
            ]);
        }
    }
    args.chunks(100)
        .map(|chunk| {
            let mut add = vec!["GEOADD".to_string(), key.to_string()];
            add.extend(chunk.iter().flatten().cloned());
            add
        })
        .collect()
}

/// The seeded random script: `points` points added to a big (skiplist) set and 100 to a small
/// (listpack) one, then `queries` searches of every form, with GEOPOS, GEOHASH and GEODIST of
/// random members between them.
///
/// Each point has a cell of its own: points in one cell are at the same distance from any
/// centre, and the order of such ties among the nearest COUNT is where redis-lite may differ
/// (Redis's partial quicksort leaves them in an order of its own; ours keeps the scan's order,
/// as Redis's full sort does).
fn random_script(seed: u64, points: usize, queries: usize) -> Vec<Vec<String>> {
    let mut rng = Rng(seed);
    let words = |line: String| line.split(' ').map(str::to_string).collect::<Vec<_>>();
    let mut script = distinct_points(&mut rng, "big", points);
    script.extend(distinct_points(&mut rng, "small", 100));
    script.push(words("OBJECT ENCODING big".into()));
    script.push(words("OBJECT ENCODING small".into()));
    for _ in 0..queries {
        let key = if rng.below(5) == 0 { "small" } else { "big" };
        let member = format!(
            "p{}",
            rng.below(if key == "big" { points as u64 } else { 100 })
        );
        let (long, lat) = point(&mut rng);
        let area = size(&mut rng);
        let meters: f64 = {
            let (n, unit) = area.split_once(' ').unwrap();
            n.parse::<f64>().unwrap()
                * match unit {
                    "km" => 1000.0,
                    "ft" => 0.3048,
                    "mi" => 1609.34,
                    _ => 1.0,
                }
        };
        let command = match rng.below(5) {
            0 => format!("GEORADIUS {key} {long} {lat} {area}"),
            1 => format!("GEORADIUSBYMEMBER_RO {key} {member} {area}"),
            2 => format!("GEOSEARCH {key} FROMLONLAT {long} {lat} BYRADIUS {area}"),
            3 => {
                let height = size(&mut rng);
                let height = height.split_once(' ').unwrap().0;
                let (width, unit) = area.split_once(' ').unwrap();
                format!("GEOSEARCH {key} FROMLONLAT {long} {lat} BYBOX {width} {height} {unit}")
            }
            _ => format!("GEOSEARCH {key} FROMMEMBER {member} BYRADIUS {area}"),
        };
        // Small searches keep the cells' own order (no sort); large ones are cut to the
        // nearest few, so the replies stay small.
        let order = match rng.below(3) {
            0 if meters < 200_000.0 => "",
            1 => " DESC",
            _ => " ASC",
        };
        let count = if meters >= 200_000.0 || rng.below(4) == 0 {
            format!(" COUNT {}", 1 + rng.below(30))
        } else {
            String::new()
        };
        script.push(words(format!(
            "{command}{order}{count} WITHDIST WITHCOORD WITHHASH"
        )));
        match rng.below(6) {
            0 => script.push(words(format!("GEOPOS {key} {member} p{}", rng.below(50)))),
            1 => script.push(words(format!("GEOHASH {key} {member} p{}", rng.below(50)))),
            2 => {
                let unit = ["m", "km", "ft", "mi"][rng.below(4) as usize];
                script.push(words(format!(
                    "GEODIST {key} {member} p{} {unit}",
                    rng.below(50)
                )));
            }
            _ => {}
        }
    }
    script.push(words("GEOPOS small p0 p1 p2 p3 p4 p5 p6 p7 p8 p9".into()));
    script
}

/// Thousands of random points (clustered at hotspots, spread over the globe, and on the Mercator
/// square's edges) and searches of every form and scale, against real Redis: coordinates,
/// distances and hashes to the last digit, every cell's members found or missed alike, in the
/// same order.
#[test]
fn random_points_and_searches_match_redis() {
    let script = random_script(0x9e37_79b9_7f4a_7c15, 3000, 4000);
    differential_generated(&script, false, &[]);
    differential_generated(&random_script(0x2545_f491_4f6c_dd1d, 1000, 1000), true, &[]);
    // The run proves something only if the searches find points: more than half do.
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let (mut searches, mut found) = (0, 0);
    for cmd in &script {
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let reply = raw.cmd(&cmd);
        if cmd[0].starts_with("GEORADIUS") || cmd[0] == "GEOSEARCH" {
            searches += 1;
            found += usize::from(!reply.starts_with(b"*0\r\n"));
        }
    }
    assert!(
        found * 2 > searches,
        "{found} of {searches} searches found points"
    );
}

/// Members at equal distances come out with COUNT in Redis's order: all results sorted are in
/// scan order among equals (glibc's stable qsort), the nearest COUNT of more in the order
/// Redis's partial quicksort leaves them (`pqsort`, which reorders equals: for 10 members
/// at one point and one nearer, COUNT 11 of 12 gives `near b c ... j a`). Groups of 1 to 70
/// members sharing a point, so every size branch of that sort runs, searched ASC and DESC for
/// every COUNT, by GEOSEARCH, GEORADIUS and GEOSEARCHSTORE.
#[test]
fn ties_in_distance_come_out_in_redis_order() {
    let line = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let mut script = Vec::new();
    let mut total = 0;
    // Each group at its own point along a meridian; members named out of order, since equal
    // scores sort by name.
    for (group, size) in [1usize, 6, 7, 8, 41, 70, 3].into_iter().enumerate() {
        let latitude = format!("{}", 10.0 + group as f64 * 0.01);
        for i in 0..size {
            let member = format!("g{group}-{:02}", (i * 37) % 100);
            script.push(line(&["GEOADD", "g", "13.0", &latitude, &member]));
        }
        total += size;
    }
    for count in 1..=total + 1 {
        let count = count.to_string();
        for order in ["ASC", "DESC"] {
            script.push(line(&[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "13.0",
                "9.9",
                "BYRADIUS",
                "200",
                "km",
                order,
                "COUNT",
                &count,
                "WITHDIST",
            ]));
            script.push(line(&[
                "GEORADIUS",
                "g",
                "13.0",
                "10.2",
                "100",
                "km",
                order,
                "COUNT",
                &count,
            ]));
        }
        script.push(line(&[
            "GEOSEARCHSTORE",
            "dest",
            "g",
            "FROMLONLAT",
            "13.0",
            "10.03",
            "BYBOX",
            "300",
            "300",
            "km",
            "ASC",
            "COUNT",
            &count,
        ]));
        script.push(line(&["ZRANGE", "dest", "0", "-1"]));
    }
    differential_generated(&script, false, &[]);
}
