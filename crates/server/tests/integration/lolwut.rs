//! LOLWUT against Redis 7.0.15: the version line, argument errors, and the art of VERSION 5
//! and 6. Both arts use chance as Redis's do, so they are compared byte for byte where chance
//! has no part (Schotter's first two rows of squares) and by shape elsewhere.

use redis_lite_testkit as testkit;

use testkit::{differential_both_protocols, Reply, Server};

#[test]
fn lolwut_version_line_and_errors_match_redis() {
    differential_both_protocols(&[
        &["LOLWUT"],
        &["LOLWUT", "foo", "bar"],
        &["LOLWUT", "VERSION", "7"],
        &["LOLWUT", "version", "4"],
        &["LOLWUT", "VERSION", "-1"],
        &["LOLWUT", "VERSION", "261"],
        &["LOLWUT", "VERSION", "x"],
        &["LOLWUT", "VERSION"],
        &["LOLWUT", "VERSION", "5", "abc"],
        &["LOLWUT", "VERSION", "5", "10", "x"],
        &["LOLWUT", "VERSION", "6", "10", "2.5"],
    ]);
}

#[test]
fn schotter_rows_without_chance_match_redis_byte_for_byte() {
    let mut script: Vec<Vec<String>> = Vec::new();
    for cols in ["1", "2", "3", "7", "20", "66", "0", "-5", "5000"] {
        for per_row in ["1", "3", "8", "0", "300"] {
            for per_col in ["1", "2", "-1"] {
                script.push(
                    ["LOLWUT", "VERSION", "5", cols, per_row, per_col, "ignored"]
                        .map(String::from)
                        .to_vec(),
                );
            }
        }
    }
    // Without Redis, the kit says the test was skipped; the unit test checks a drawing then.
    testkit::differential_generated(&script, false, &[]);
    testkit::differential_generated(&script[..5], true, &[]);
}

/// The text of a LOLWUT reply (a bulk string in RESP2).
fn art(server: &Server, args: &[&str]) -> String {
    String::from_utf8(Reply::parse(&server.raw().cmd(args)).bytes()).unwrap()
}

/// Lines, and cells per line (a Braille character, or a coloured space of the skyline): what
/// chance does not change.
fn shape(text: &str) -> Vec<usize> {
    text.lines()
        .map(|l| match l.matches("\x1b[0m").count() {
            0 => l.chars().count(),
            coloured => coloured,
        })
        .collect()
}

#[test]
fn the_random_arts_have_redis_s_shape_and_captions() {
    let lite = Server::lite(&[]);
    let schotter = art(&lite, &["LOLWUT", "VERSION", "5"]);
    assert!(
        schotter.ends_with("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n")
    );
    let skyline = art(&lite, &["LOLWUT", "VERSION", "6", "30", "7"]);
    let (picture, caption) = skyline.split_at(skyline.find("\nDedicated").unwrap());
    assert_eq!(caption, "\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15\n");
    let cells = [
        "\x1b[0;30;40m \x1b[0m",
        "\x1b[0;90;100m \x1b[0m",
        "\x1b[0;37;47m \x1b[0m",
        "\x1b[0;97;107m \x1b[0m",
    ];
    let rows: Vec<&str> = picture.split('\n').collect();
    assert_eq!(rows.len(), 7);
    for row in &rows {
        let mut rest = *row;
        let mut count = 0;
        while !rest.is_empty() {
            let cell = cells
                .iter()
                .find(|c| rest.starts_with(*c))
                .expect("a coloured cell");
            rest = &rest[cell.len()..];
            count += 1;
        }
        assert_eq!(count, 30);
    }
    // The bottom row is the ground floor: never the white sky only.
    assert_ne!(rows[6], cells[3].repeat(30));
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    for args in [
        &["LOLWUT", "VERSION", "5"][..],
        &["LOLWUT", "VERSION", "5", "40", "5", "9"],
        &["LOLWUT", "VERSION", "6"],
        &["LOLWUT", "VERSION", "6", "13", "3"],
    ] {
        assert_eq!(
            shape(&art(&lite, args)),
            shape(&art(&redis, args)),
            "{args:?}"
        );
    }
}
