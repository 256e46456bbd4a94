//! LOLWUT: computer art and the version, as Redis 7.0 draws it. Redis 7.0 has no art of its
//! own, so plain LOLWUT (and any VERSION but 5 and 6) answers the version line; VERSION 5 is
//! Georg Nees's "Schotter" (squares tilting more the lower they are) in Braille dots, VERSION 6
//! a skyline after Plaguemon's in terminal colours. Both draw with a random generator as Redis
//! does, so only their geometry without the random part (Schotter's first two rows) is the
//! same from one call to the next.

use rand::Rng;

use crate::command::flags::*;
use crate::command::{CommandSpec, Group};
use crate::context::Ctx;
use crate::error::CmdResult;
use crate::server::REDIS_VERSION;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("lolwut", -1, READONLY | FAST, lolwut)
    .doc(
        Group::Server,
        "5.0.0",
        "Display some computer art and the Redis version",
    )
    .syntax("[VERSION version:integer]")
    .complexity("")];

/// LOLWUT [VERSION version] [art parameters...]
fn lolwut(ctx: &mut Ctx<'_>) -> CmdResult {
    let mut version = None;
    let mut first_param = 1;
    if ctx.arg_count() >= 3 && ctx.arg(1).eq_ignore_ascii_case(b"version") {
        version = Some(ctx.arg_i64(2)?);
        first_param = 3;
    }
    let mut params = Vec::new();
    // Each art reads its own leading parameters; later words are ignored, as in Redis.
    let wanted = match version {
        Some(5) => 3,
        Some(6) => 2,
        _ => 0,
    };
    for i in (first_param..ctx.arg_count()).take(wanted) {
        params.push(ctx.arg_i64(i)?);
    }
    let param =
        |i: usize, default: i64, max: i64| params.get(i).copied().unwrap_or(default).clamp(1, max);
    let mut text = match version {
        Some(5) => {
            let canvas = schotter(param(0, 66, 1000), param(1, 8, 200), param(2, 12, 200));
            let mut text = canvas.braille();
            text.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. ");
            text
        }
        Some(6) => {
            let canvas = skyline(param(0, 80, 1000), param(1, 20, 1000));
            let mut text = canvas.coloured();
            text.push_str("\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. ");
            text
        }
        _ => String::new(),
    };
    text.push_str("Redis ver. ");
    text.push_str(REDIS_VERSION);
    text.push('\n');
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// A grid of pixels, each a small colour number; pixels outside it read as 0 and ignore writes.
struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i64, height: i64, background: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![background; (width * height) as usize],
        }
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        ((0..self.width).contains(&x) && (0..self.height).contains(&y))
            .then(|| (y * self.width + x) as usize)
    }

    fn get(&self, x: i64, y: i64) -> u8 {
        self.index(x, y).map_or(0, |i| self.pixels[i])
    }

    fn set(&mut self, x: i64, y: i64, colour: u8) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = colour;
        }
    }

    /// A straight line, Bresenham's way, both ends included.
    fn line(&mut self, (mut x, mut y): (i64, i64), (x2, y2): (i64, i64), colour: u8) {
        let (dx, dy) = ((x2 - x).abs(), (y2 - y).abs());
        let (step_x, step_y) = (if x < x2 { 1 } else { -1 }, if y < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x, y, colour);
            if x == x2 && y == y2 {
                return;
            }
            let doubled = err * 2;
            if doubled > -dy {
                err -= dy;
                x += step_x;
            }
            if doubled < dx {
                err += dx;
                y += step_y;
            }
        }
    }

    /// A square of side `side` centred on (x, y), turned by `angle` radians: its corners lie
    /// on the circle through them, a quarter turn apart, rounded to pixels. The arithmetic
    /// mixes single and double precision as Redis's does, so the pixels are the same.
    fn square(&mut self, x: i64, y: i64, side: f32, angle: f32, colour: u8) {
        use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};
        let radius = ((side as f64 / std::f64::consts::SQRT_2) as f32 as f64).round();
        let mut angle = (angle as f64 + FRAC_PI_4) as f32;
        let mut corners = [(0, 0); 4];
        for corner in &mut corners {
            let a = angle as f64;
            *corner = (
                (a.sin() * radius + x as f64).round() as i64,
                (a.cos() * radius + y as f64).round() as i64,
            );
            angle = (angle as f64 + FRAC_PI_2) as f32;
        }
        for k in 0..4 {
            self.line(corners[k], corners[(k + 1) % 4], colour);
        }
    }

    /// Each 2×4 block of pixels as one Braille character (dots 1-3 and 7 down the left column,
    /// 4-6 and 8 down the right), a line of text per four rows of pixels.
    fn braille(&self) -> String {
        const DOTS: [(i64, i64); 8] = [
            (0, 0),
            (0, 1),
            (0, 2),
            (1, 0),
            (1, 1),
            (1, 2),
            (0, 3),
            (1, 3),
        ];
        let mut text = String::new();
        for y in (0..self.height).step_by(4) {
            for x in (0..self.width).step_by(2) {
                let bits = DOTS
                    .iter()
                    .enumerate()
                    .filter(|(_, (dx, dy))| self.get(x + dx, y + dy) != 0)
                    .fold(0u32, |bits, (bit, _)| bits | 1 << bit);
                text.push(char::from_u32(0x2800 + bits).expect("a Braille pattern"));
            }
            if y != self.height - 1 {
                text.push('\n');
            }
        }
        text
    }

    /// Each pixel as a space on its colour (foreground and background both set, which terminals
    /// agree on best): 0 black, 1 and 2 greys, 3 white.
    fn coloured(&self) -> String {
        let mut text = String::new();
        for y in 0..self.height {
            for x in 0..self.width {
                let escape = match self.get(x, y) {
                    1 => "0;90;100m",
                    2 => "0;37;47m",
                    3 => "0;97;107m",
                    _ => "0;30;40m",
                };
                text.push_str("\x1b[");
                text.push_str(escape);
                text.push_str(" \x1b[0m");
            }
            if y != self.height - 1 {
                text.push('\n');
            }
        }
        text
    }
}

/// A C-style `rand() / RAND_MAX`: uniform in [0, 1].
fn unit(rng: &mut impl Rng) -> f32 {
    rng.gen_range(0..=i32::MAX) as f32 / i32::MAX as f32
}

/// Schotter: `cols` characters wide (two pixels each), rows of squares that from the third on
/// turn and shift at random, more the lower the row.
fn schotter(cols: i64, per_row: i64, per_col: i64) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32) as i64 + padding * 2;
    let mut canvas = Canvas::new(width, height, 0);
    let mut rng = rand::thread_rng();
    for row in 0..per_col {
        for column in 0..per_row {
            let mut x = (column as f32 * side + side / 2.0) as i64 + padding;
            let mut y = (row as f32 * side + side / 2.0) as i64 + padding;
            let mut angle = 0.0;
            if row > 1 {
                let mut disorder = || unit(&mut rng) / per_col as f32 * row as f32;
                let (r1, r2, r3) = (disorder(), disorder(), disorder());
                let mut signed = |r: f32| if rng.gen_bool(0.5) { -r } else { r };
                let (r1, r2, r3) = (signed(r1), signed(r2), signed(r3));
                angle = r1;
                // Added to the pixel position, then truncated, as an int += float does.
                x = (x as f32 + r2 * side / 3.0) as i64;
                y = (y as f32 + r3 * side / 3.0) as i64;
            }
            canvas.square(x, y, side, angle, 1);
        }
    }
    canvas
}

/// A skyscraper of the skyline: where it stands, its size and colour, and whether it has lit
/// windows.
struct Skyscraper {
    left: i64,
    width: i64,
    height: i64,
    colour: u8,
    windows: bool,
}

/// The skyline: two rows of grey buildings behind (the lighter farther), then black ones with
/// windows, on white.
fn skyline(cols: i64, rows: i64) -> Canvas {
    let mut canvas = Canvas::new(cols, rows, 3);
    let mut rng = rand::thread_rng();
    let mut last_window = 0;
    for colour in [2u8, 1] {
        let mut offset = -10;
        while offset < cols {
            offset += rng.gen_range(0..8);
            let width = 10 + rng.gen_range(0..9);
            let spread = if colour == 2 { 2 } else { 3 };
            let height = rows / 2 + rng.gen_range(0..rows) / spread;
            let building = Skyscraper {
                left: offset,
                width,
                height,
                colour,
                windows: false,
            };
            draw_skyscraper(&mut canvas, &building, &mut rng, &mut last_window);
            offset += if colour == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < cols {
        offset += rng.gen_range(0..8);
        let mut width = 5 + rng.gen_range(0..14);
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = rows / 3 + rng.gen_range(0..rows) / 2;
        let building = Skyscraper {
            left: offset,
            width,
            height,
            colour: 0,
            windows: true,
        };
        draw_skyscraper(&mut canvas, &building, &mut rng, &mut last_window);
        offset += width + 5;
    }
    canvas
}

/// One building from the ground up; its roof is two pixels narrower on each side. Windows,
/// away from the walls, are two pixels wide and one tall (terminal cells are tall), lit in a
/// grey other than the last window's.
fn draw_skyscraper(
    canvas: &mut Canvas,
    building: &Skyscraper,
    rng: &mut impl Rng,
    last_window: &mut u8,
) {
    let bottom = canvas.height - 1;
    let top = bottom - building.height + 1;
    let right = building.left + building.width;
    for y in (top..=bottom).rev() {
        for x in building.left..right {
            if y == top && (x <= building.left + 1 || x >= right - 2) {
                continue;
            }
            let mut colour = building.colour;
            let inside = x > building.left + 1 && x < right - 2 && y > top + 1 && y < bottom - 1;
            if building.windows && inside {
                let (rel_x, rel_y) = (x - (building.left + 1), y - (top + 1));
                if (rel_x / 2) % 2 != 0 && rel_y % 2 != 0 {
                    colour = loop {
                        let lit = 1 + rng.gen_range(0..2u8);
                        if lit != *last_window {
                            break lit;
                        }
                    };
                    *last_window = colour;
                }
            }
            canvas.set(x, y, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schotter_without_its_random_rows_is_redis_s() {
        // LOLWUT VERSION 5 1 2 3 on Redis 7.0.15 (every pixel of the 2×3 canvas is drawn,
        // whatever the third row's chance).
        assert_eq!(schotter(1, 2, 3).braille(), "⠿\n");
        // Two rows draw without chance: the same squares every time.
        assert_eq!(schotter(10, 2, 2).braille(), schotter(10, 2, 2).braille());
    }
}
