//! `--eval file [key ...] [, arg ...]`: the file's whole content runs as one EVAL, the words
//! before the first lone `,` are its keys and the words after it its arguments, as in redis-cli.

use std::fs::File;
use std::io::Read;

use crate::conn::plain_error;

/// The script in `path`, or redis-cli's message when it cannot be opened. A read that fails
/// after the open succeeded (a directory) ends the script there, as C's `fread` loop does, so
/// such a file runs as the script read so far.
pub fn read_script(path: &str) -> Result<Vec<u8>, String> {
    let mut file =
        File::open(path).map_err(|e| format!("Can't open file '{path}': {}", plain_error(&e)))?;
    let mut script = Vec::new();
    let _ = file.read_to_end(&mut script);
    Ok(script)
}

/// `EVAL script numkeys key ... arg ...` from the words after the file name. Only the first
/// lone `,` separates; a later one is an ordinary argument.
pub fn eval_command(script: Vec<u8>, words: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let comma = words.iter().position(|w| w == b",");
    let (keys, args) = match comma {
        Some(at) => (&words[..at], &words[at + 1..]),
        None => (words, &[][..]),
    };
    let mut command = vec![
        b"EVAL".to_vec(),
        script,
        keys.len().to_string().into_bytes(),
    ];
    command.extend(keys.iter().cloned());
    command.extend(args.iter().cloned());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<u8>> {
        line.split_whitespace()
            .map(|w| w.as_bytes().to_vec())
            .collect()
    }

    fn eval(line: &str) -> Vec<String> {
        eval_command(b"s".to_vec(), &words(line))
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    }

    #[test]
    fn the_first_lone_comma_splits_keys_from_arguments() {
        assert_eq!(eval("a b , c d"), ["EVAL", "s", "2", "a", "b", "c", "d"]);
        assert_eq!(eval("a , b , c"), ["EVAL", "s", "1", "a", "b", ",", "c"]);
        assert_eq!(eval("a,b , c"), ["EVAL", "s", "1", "a,b", "c"]);
        assert_eq!(eval(", x"), ["EVAL", "s", "0", "x"]);
        assert_eq!(eval("a ,"), ["EVAL", "s", "1", "a"]);
        assert_eq!(eval("a b"), ["EVAL", "s", "2", "a", "b"]);
        assert_eq!(eval(""), ["EVAL", "s", "0"]);
    }

    #[test]
    fn a_missing_file_reads_as_redis_cli_says_it() {
        assert_eq!(
            read_script("/nonexistent/script.lua"),
            Err("Can't open file '/nonexistent/script.lua': No such file or directory".into())
        );
    }
}
