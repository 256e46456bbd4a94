//! The geohash arithmetic behind the geo commands: a geo set is a sorted set whose scores are
//! 52-bit geohashes (26 bits of latitude and 26 of longitude, interleaved, longitude first), on
//! the Web Mercator square (latitudes within ±85.05112878). This module turns coordinates into
//! scores and back, measures distances on Redis's sphere, and picks the cells (a centre cell
//! and its eight neighbours, at a precision chosen from the search size) whose score ranges a
//! radius or box search must scan.
//!
//! Every formula follows Redis's documented algorithm operation for operation, in the same
//! floating-point order, so that coordinates, distances and the chosen cells come out bit for
//! bit as Redis's do: a reply prints coordinates to 17 decimals, and a point near a cell's edge
//! is found or missed by the same rounding.

use std::f64::consts::PI;

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
/// The Web Mercator limits: beyond them the projection is undefined.
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;

/// Bits per coordinate of a stored score.
pub const STEP_MAX: u8 = 26;

/// The sphere Redis measures on, in meters.
const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Mercator square's width in meters: the largest radius one cell level covers.
const MERCATOR_MAX: f64 = 20037726.37;
const DEG_TO_RAD: f64 = PI / 180.0;

fn deg_rad(degrees: f64) -> f64 {
    degrees * DEG_TO_RAD
}

fn rad_deg(radians: f64) -> f64 {
    radians / DEG_TO_RAD
}

/// An interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub min: f64,
    pub max: f64,
}

/// The square the stored scores divide.
const MERCATOR_LONG: Span = Span {
    min: LONG_MIN,
    max: LONG_MAX,
};
const MERCATOR_LAT: Span = Span {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The whole globe, on which the standard (textual) geohash is defined.
const GLOBE_LAT: Span = Span {
    min: -90.0,
    max: 90.0,
};

/// A geohash cell: `step` bits per coordinate, interleaved into `bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// The rectangle a cell covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub longitude: Span,
    pub latitude: Span,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into a u32: the inverse of [`spread`].
fn squeeze(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Latitude in the even bits, longitude in the odd ones, so the longitude bit leads each pair.
fn interleave(lat: u32, long: u32) -> u64 {
    spread(lat) | (spread(long) << 1)
}

/// The (latitude, longitude) cell indexes of `bits`.
fn deinterleave(bits: u64) -> (u32, u32) {
    (squeeze(bits), squeeze(bits >> 1))
}

/// The cell of `step` bits holding a point, within the given ranges; None for a point outside
/// the Mercator limits or the ranges. A point on the upper edge of a range gets index 2^step,
/// one past the last cell, as Redis's fixed-point conversion gives it.
fn encode(
    long_range: Span,
    lat_range: Span,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Cell> {
    let outside_mercator =
        !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude);
    let outside_ranges = latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max;
    if outside_mercator || outside_ranges {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min) * cells;
    let long_offset = (longitude - long_range.min) / (long_range.max - long_range.min) * cells;
    Some(Cell {
        bits: interleave(lat_offset as u32, long_offset as u32),
        step,
    })
}

/// The rectangle `cell` covers within the given ranges.
fn decode(long_range: Span, lat_range: Span, cell: Cell) -> Area {
    let (lat, long) = deinterleave(cell.bits);
    let cells = (1u64 << cell.step) as f64;
    let at = |range: Span, index: u32| {
        range.min + (f64::from(index) * 1.0 / cells) * (range.max - range.min)
    };
    Area {
        latitude: Span {
            min: at(lat_range, lat),
            max: at(lat_range, lat.wrapping_add(1)),
        },
        longitude: Span {
            min: at(long_range, long),
            max: at(long_range, long.wrapping_add(1)),
        },
    }
}

/// The centre of an area, kept within the Mercator limits.
fn centre(area: &Area) -> (f64, f64) {
    let longitude = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let latitude = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (longitude, latitude)
}

/// The stored score of a point: its 26-step cell. None outside the Mercator limits.
pub fn score(longitude: f64, latitude: f64) -> Option<u64> {
    encode(MERCATOR_LONG, MERCATOR_LAT, longitude, latitude, STEP_MAX).map(|cell| cell.bits)
}

/// A score as C's `(uint64_t)` cast of a double computes it on x86-64, which is how Redis
/// reads any sorted-set score as a geohash: a negative score wraps as a signed integer, and
/// values past the integer ranges give the conversion's "indefinite" result.
fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if score < TWO_63 {
        // Below -2^63 (and NaN) the signed conversion is indefinite: i64::MIN.
        if score >= -TWO_63 {
            score as i64 as u64
        } else {
            i64::MIN as u64
        }
    } else if score - TWO_63 < TWO_63 {
        ((score - TWO_63) as i64 as u64) ^ (1 << 63)
    } else {
        0
    }
}

/// The point a score stands for (the centre of its cell), as (longitude, latitude).
pub fn position(score: f64) -> (f64, f64) {
    let cell = Cell {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    centre(&decode(MERCATOR_LONG, MERCATOR_LAT, cell))
}

/// The 11-character standard geohash of a stored score: its position re-encoded on the whole
/// globe (latitudes ±90), 52 bits in base32, the last character standing for the bits a score
/// does not have.
pub fn standard_hash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (longitude, latitude) = position(score);
    // A position is always within the limits, so the encoding exists.
    let bits =
        encode(MERCATOR_LONG, GLOBE_LAT, longitude, latitude, STEP_MAX).map_or(0, |c| c.bits);
    let mut text = [ALPHABET[0]; 11];
    for (i, c) in text.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    text
}

/// The meridian distance between two latitudes, in meters.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine (great-circle) distance between two points, in meters.
pub fn distance(long1: f64, lat1: f64, long2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(long2) - deg_rad(long1)) / 2.0).sin();
    // On one meridian the latitude difference is the whole distance, and cheaper.
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// What a search covers, in the unit it was given in (`to_meters` converts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Within `radius` of the centre.
    Radius(f64),
    /// Within a box of `width` × `height` centred on the centre.
    Box { width: f64, height: f64 },
}

/// A GEOSEARCH/GEORADIUS query: a shape around a centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    pub longitude: f64,
    pub latitude: f64,
    pub shape: Shape,
    /// Meters per unit of the shape's sizes.
    pub to_meters: f64,
}

/// The cell level a search of `radius_m` meters at `latitude` scans: the finest whose cells
/// are still about as large as the radius, coarser towards the poles where cells narrow.
fn steps_for_radius(radius_m: f64, latitude: f64) -> u8 {
    if radius_m == 0.0 {
        return STEP_MAX;
    }
    let (mut range, mut step) = (radius_m, 1i32);
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    // Two levels coarser keeps the radius inside the 3×3 block in the common cases.
    step -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        step -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// `cell` moved by `dx` cells east and `dy` cells north, wrapping around its level's grid. An
/// unmoved coordinate keeps its index as it was, even one past the grid's edge.
fn moved(cell: Cell, dx: i32, dy: i32) -> Cell {
    let (mut lat, mut long) = deinterleave(cell.bits);
    let mask = ((1u64 << cell.step) - 1) as u32;
    if dx != 0 {
        long = long.wrapping_add_signed(dx) & mask;
    }
    if dy != 0 {
        lat = lat.wrapping_add_signed(dy) & mask;
    }
    Cell {
        bits: interleave(lat, long),
        step: cell.step,
    }
}

/// The scores a cell's points have: `start..end`.
pub fn score_range(cell: Cell) -> (f64, f64) {
    let shift = 52 - 2 * u32::from(cell.step);
    let start = cell.bits << shift;
    let end = (cell.bits + 1) << shift;
    (start as f64, end as f64)
}

impl Search {
    /// The distance from the centre to a point (in meters) when the shape holds the point.
    pub fn distance_if_within(&self, longitude: f64, latitude: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(radius) => {
                let d = distance(self.longitude, self.latitude, longitude, latitude);
                (d <= radius * self.to_meters).then_some(d)
            }
            Shape::Box { width, height } => {
                // The latitude test is the cheaper one, so it goes first.
                if lat_distance(latitude, self.latitude) > height * self.to_meters / 2.0 {
                    return None;
                }
                let across = distance(longitude, latitude, self.longitude, latitude);
                if across > width * self.to_meters / 2.0 {
                    return None;
                }
                Some(distance(self.longitude, self.latitude, longitude, latitude))
            }
        }
    }

    /// The bounding box of the shape: (min longitude, min latitude, max longitude, max
    /// latitude). Longitudes spread most on the side nearer the pole.
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let (half_width, half_height) = match self.shape {
            Shape::Radius(radius) => (radius, radius),
            Shape::Box { width, height } => (width / 2.0, height / 2.0),
        };
        let (width, height) = (self.to_meters * half_width, self.to_meters * half_height);
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let long_delta_at = |lat: f64| rad_deg(width / EARTH_RADIUS_M / deg_rad(lat).cos());
        let long_delta = if self.latitude < 0.0 {
            long_delta_at(self.latitude - lat_delta)
        } else {
            long_delta_at(self.latitude + lat_delta)
        };
        (
            self.longitude - long_delta,
            self.latitude - lat_delta,
            self.longitude + long_delta,
            self.latitude + lat_delta,
        )
    }

    /// The cells to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW), without the
    /// neighbours the shape cannot reach and without a cell equal to the one scanned just
    /// before it (a huge search wraps neighbours onto each other). As in Redis, that check
    /// starts after the first neighbour scanned, so a neighbour equal to the centre cell is
    /// scanned again.
    pub fn cells(&self) -> Vec<Cell> {
        let (min_long, min_lat, max_long, max_lat) = self.bounds();
        let radius_m = match self.shape {
            Shape::Radius(radius) => radius,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.to_meters;
        let mut steps = steps_for_radius(radius_m, self.latitude);
        let at_level = |steps: u8| {
            encode(
                MERCATOR_LONG,
                MERCATOR_LAT,
                self.longitude,
                self.latitude,
                steps,
            )
            .expect("a search centre is within the Mercator limits")
        };
        let mut centre_cell = at_level(steps);
        // Near a cell's edge the neighbours may not reach as far as the bounding box: one
        // level coarser then.
        let reach =
            |cell: Cell, dx: i32, dy: i32| decode(MERCATOR_LONG, MERCATOR_LAT, moved(cell, dx, dy));
        let too_fine = reach(centre_cell, 0, 1).latitude.max < max_lat
            || reach(centre_cell, 0, -1).latitude.min > min_lat
            || reach(centre_cell, 1, 0).longitude.max < max_long
            || reach(centre_cell, -1, 0).longitude.min > min_long;
        if steps > 1 && too_fine {
            steps -= 1;
            centre_cell = at_level(steps);
        }
        let area = decode(MERCATOR_LONG, MERCATOR_LAT, centre_cell);
        // A side whose centre cell already passes the bounding box needs no neighbours there.
        let prune = steps >= 2;
        let (no_south, no_north) = (
            prune && area.latitude.min < min_lat,
            prune && area.latitude.max > max_lat,
        );
        let (no_west, no_east) = (
            prune && area.longitude.min < min_long,
            prune && area.longitude.max > max_long,
        );
        let candidates = [
            (0, 0, false),
            (0, 1, no_north),
            (0, -1, no_south),
            (1, 0, no_east),
            (-1, 0, no_west),
            (1, 1, no_north || no_east),
            (-1, 1, no_north || no_west),
            (1, -1, no_south || no_east),
            (-1, -1, no_south || no_west),
        ];
        let mut cells: Vec<Cell> = Vec::with_capacity(9);
        for (dx, dy, pruned) in candidates {
            if pruned {
                continue;
            }
            let cell = moved(centre_cell, dx, dy);
            if cells.len() > 1 && cells.last() == Some(&cell) {
                continue;
            }
            cells.push(cell);
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for (lat, long) in [
            (0, 0),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (u32::MAX, 7),
        ] {
            assert_eq!(deinterleave(interleave(lat, long)), (lat, long));
        }
        // Longitude leads each pair of bits.
        assert_eq!(interleave(0, 1), 0b10);
        assert_eq!(interleave(1, 0), 0b01);
    }

    #[test]
    fn scores_match_redis() {
        // Palermo and Catania, as GEOADD stores them in Redis 7.0.15.
        assert_eq!(score(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(score(180.1, 0.0), None);
        assert_eq!(score(0.0, 85.06), None);
    }

    #[test]
    fn standard_hashes_are_base32_of_the_globe_encoding() {
        assert_eq!(&standard_hash(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&standard_hash(3479447370796909.0), b"sqdtr74hyu0");
    }

    #[test]
    fn distances_use_redis_sphere() {
        // GEODIST of the stored Palermo and Catania: 166274.1516 m in Redis.
        let ((long1, lat1), (long2, lat2)) =
            (position(3479099956230698.0), position(3479447370796909.0));
        let d = distance(long1, lat1, long2, lat2);
        assert!((d - 166274.1516).abs() < 5e-5, "{d}");
        assert_eq!(distance(1.0, 10.0, 1.0, 11.0), lat_distance(10.0, 11.0));
    }

    #[test]
    fn scores_read_as_c_casts_them() {
        assert_eq!(score_bits(5.9), 5);
        assert_eq!(score_bits(-5.0), (-5i64) as u64);
        assert_eq!(score_bits(1e19), 10_000_000_000_000_000_000);
        assert_eq!(score_bits(1e20), 0);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
    }

    #[test]
    fn step_estimation_coarsens_towards_poles() {
        assert_eq!(steps_for_radius(0.0, 0.0), 26);
        assert_eq!(steps_for_radius(1.0, 0.0), 24);
        assert_eq!(steps_for_radius(1.0, 70.0), 23);
        assert_eq!(steps_for_radius(1.0, -81.0), 22);
        assert_eq!(steps_for_radius(1e9, 0.0), 1);
    }

    #[test]
    fn neighbours_wrap_around_the_grid() {
        let corner = Cell { bits: 0, step: 2 };
        let west = moved(corner, -1, 0);
        assert_eq!(deinterleave(west.bits), (0, 3));
        let south = moved(corner, 0, -1);
        assert_eq!(deinterleave(south.bits), (3, 0));
    }
}
