//! A uniform grid of points in latitude/longitude, stored as parallel arrays sorted by cell.
//!
//! Why not an R-tree: the nearby query visits thousands of points in dense city centres, and
//! walking a tree costs far more per point than scanning contiguous arrays. With cells sorted
//! row by row, a box is one contiguous run of points per row, found by two binary searches.

/// Cell edge in degrees (about 1.1 km north-south).
const CELL_DEG: f64 = 0.01;
/// Keeps cell coordinates positive for every valid latitude/longitude.
const CELL_OFFSET: i64 = 1 << 20;

fn cell(v: f64) -> i64 {
    (v / CELL_DEG).floor() as i64 + CELL_OFFSET
}

fn key(row: i64, col: i64) -> u64 {
    ((row as u64) << 32) | (col as u64)
}

pub struct PointGrid<T> {
    keys: Vec<u64>,
    lats: Vec<f64>,
    lngs: Vec<f64>,
    data: Vec<T>,
}

impl<T> PointGrid<T> {
    pub fn build(points: Vec<(f64, f64, T)>) -> Self {
        let mut keyed: Vec<(u64, f64, f64, T)> = points
            .into_iter()
            .map(|(lat, lng, d)| (key(cell(lat), cell(lng)), lat, lng, d))
            .collect();
        keyed.sort_by_key(|p| p.0);
        let mut grid = Self {
            keys: Vec::with_capacity(keyed.len()),
            lats: Vec::with_capacity(keyed.len()),
            lngs: Vec::with_capacity(keyed.len()),
            data: Vec::with_capacity(keyed.len()),
        };
        for (k, lat, lng, d) in keyed {
            grid.keys.push(k);
            grid.lats.push(lat);
            grid.lngs.push(lng);
            grid.data.push(d);
        }
        grid
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Position `i`'s coordinates and data.
    pub fn get(&self, i: u32) -> (f64, f64, &T) {
        let i = i as usize;
        (self.lats[i], self.lngs[i], &self.data[i])
    }

    /// Every point's data, in grid position order (for building parallel arrays).
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// Calls `f(position, lat, lng)` for every point in the cells the box touches: all points inside
    /// the box, and some just outside it (callers check distance anyway). Data is not passed: most
    /// points are rejected on coordinates alone, and not loading it keeps the scan in cache.
    pub fn for_each_near(
        &self,
        (lat_min, lat_max): (f64, f64),
        (lng_min, lng_max): (f64, f64),
        mut f: impl FnMut(u32, f64, f64),
    ) {
        let (col_min, col_max) = (cell(lng_min), cell(lng_max));
        for row in cell(lat_min)..=cell(lat_max) {
            let start = self.keys.partition_point(|&k| k < key(row, col_min));
            let end = self.keys.partition_point(|&k| k <= key(row, col_max));
            for i in start..end {
                f(i as u32, self.lats[i], self.lngs[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_box_query_finds_every_point_inside_the_box() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let points: Vec<(f64, f64, usize)> = (0..5_000)
            .map(|i| (rng.gen_range(39.5..40.5), rng.gen_range(116.0..117.0), i))
            .collect();
        let grid = PointGrid::build(points.clone());
        assert_eq!(grid.len(), 5_000);
        for _ in 0..50 {
            let lat = rng.gen_range(39.4..40.6);
            let lng = rng.gen_range(115.9..117.1);
            let (dlat, dlng) = (rng.gen_range(0.0..0.1), rng.gen_range(0.0..0.1));
            let (lats, lngs) = ((lat - dlat, lat + dlat), (lng - dlng, lng + dlng));
            let mut found = Vec::new();
            grid.for_each_near(lats, lngs, |pos, la, ln| {
                let (lat, lng, &id) = grid.get(pos);
                assert_eq!((lat, lng), (la, ln));
                found.push(id);
            });
            let inside = points
                .iter()
                .filter(|p| (lats.0..=lats.1).contains(&p.0) && (lngs.0..=lngs.1).contains(&p.1));
            for p in inside {
                assert!(found.contains(&p.2), "missed point {p:?}");
            }
            found.sort_unstable();
            found.dedup();
            // The scan stays local: a box of at most 0.2° × 0.2° in a 1° × 1° field visits far
            // fewer than all points.
            let visited = found.len();
            assert!(visited < points.len() / 5, "visited {visited}");
        }
    }

    #[test]
    fn points_on_both_sides_of_zero_are_found() {
        let grid = PointGrid::build(vec![
            (-0.001, -0.001, 'a'),
            (0.001, 0.001, 'b'),
            (5.0, 5.0, 'c'),
        ]);
        let mut found = Vec::new();
        grid.for_each_near((-0.01, 0.01), (-0.01, 0.01), |pos, _, _| {
            found.push(*grid.get(pos).2)
        });
        found.sort_unstable();
        assert_eq!(found, ['a', 'b']);
    }
}
