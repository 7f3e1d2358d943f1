//! Statistical disclosure control: every figure about people that the product publishes (the
//! grants fairness view, a round's decisions, and later the questionnaire and network reach)
//! passes through here, so no count of fewer than [`THRESHOLD`] people can be read or worked
//! out.
//!
//! A [`Table`] holds counts and the sums that tie them together ("the regions add up to the
//! total", "awards plus declines make the applications"). [`Table::protect`] hides every count
//! from 1 to 4 (primary suppression), then keeps hiding more (secondary suppression) until a
//! reader who knows every shown figure, every sum, and that a hidden count is at least 1 (a
//! zero is always shown) can neither work out a hidden count under 5 nor the combined count of
//! a few people, by subtracting shown parts from a shown total or by adding up parts.
//!
//! Publishing one figure twice from data that has changed in between would let a reader
//! subtract the two; areas avoid that by publishing closed periods only and keeping what they
//! published (see [`refused_republication`]).
use serde::{Deserialize, Serialize};

/// The smallest number of people a shown figure may describe.
pub const THRESHOLD: i64 = 5;

/// A count as published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Figure {
    Shown(i64),
    Hidden,
}

impl Figure {
    pub fn shown(self) -> Option<i64> {
        match self {
            Figure::Shown(n) => Some(n),
            Figure::Hidden => None,
        }
    }

    pub fn is_shown(self) -> bool {
        matches!(self, Figure::Shown(_))
    }

    /// How a page or spreadsheet writes it.
    pub fn text(self) -> String {
        match self {
            Figure::Shown(n) => n.to_string(),
            Figure::Hidden => HIDDEN_TEXT.into(),
        }
    }
}

/// What a hidden figure reads as, everywhere.
pub const HIDDEN_TEXT: &str = "fewer than 5";

/// Names a count in a [`Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellId(usize);

#[derive(Clone, Debug)]
struct Cell {
    value: i64,
    /// False for counts never printed but implied by others (declines = applications − awards).
    published: bool,
    hidden: bool,
}

/// A sum a reader knows holds: the parts add up to the whole.
#[derive(Clone, Debug)]
struct Sum {
    parts: Vec<CellId>,
    whole: CellId,
}

#[derive(Clone, Debug, Default)]
pub struct Table {
    cells: Vec<Cell>,
    sums: Vec<Sum>,
}

/// Something a reader could work out.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Leak {
    /// A hidden count under the threshold, worked out exactly through this sum.
    Cell { cell: CellId, sum: usize },
    /// The hidden parts of this sum together describe fewer than the threshold, or must each
    /// be exactly 1.
    Remainder { sum: usize },
}

impl Table {
    /// A count to publish, if it is safe to.
    pub fn count(&mut self, value: i64) -> CellId {
        self.cells.push(Cell { value, published: true, hidden: false });
        CellId(self.cells.len() - 1)
    }

    /// A count never published that other counts imply.
    pub fn implied(&mut self, value: i64) -> CellId {
        self.cells.push(Cell { value, published: false, hidden: true });
        CellId(self.cells.len() - 1)
    }

    /// Declare that `parts` add up to `whole`.
    pub fn sum(&mut self, parts: Vec<CellId>, whole: CellId) {
        self.sums.push(Sum { parts, whole });
    }

    /// Hide a figure whatever its value (a figure that must follow another's fate).
    pub fn hide(&mut self, id: CellId) {
        self.cells[id.0].hidden = true;
    }

    pub fn figure(&self, id: CellId) -> Figure {
        let cell = &self.cells[id.0];
        if cell.hidden || !cell.published {
            Figure::Hidden
        } else {
            Figure::Shown(cell.value)
        }
    }

    /// Hide every count under the threshold, then whatever else it takes so that none can be
    /// worked out from the rest.
    pub fn protect(&mut self) {
        for cell in &mut self.cells {
            if (1..THRESHOLD).contains(&cell.value) {
                cell.hidden = true;
            }
        }
        // Each round hides at least one more figure, so this ends; the bound is a safety net.
        for _ in 0..=self.cells.len() {
            match self.leaks().first() {
                None => return,
                Some(leak) => {
                    if !self.hide_more(leak) {
                        break;
                    }
                }
            }
        }
        // Nothing left to hide within the sum that leaks: hide every figure instead.
        if !self.leaks().is_empty() {
            for cell in &mut self.cells {
                cell.hidden = true;
            }
        }
    }

    /// For a leak, hide the smallest shown non-zero part of its sum, or else its whole.
    /// False when there is nothing left to hide there.
    fn hide_more(&mut self, leak: &Leak) -> bool {
        let sum = match leak {
            Leak::Cell { sum, .. } | Leak::Remainder { sum } => &self.sums[*sum],
        };
        let candidate = sum
            .parts
            .iter()
            .copied()
            .filter(|p| self.figure(*p).shown().is_some_and(|v| v > 0))
            .min_by_key(|p| (self.cells[p.0].value, p.0))
            .or_else(|| self.figure(sum.whole).is_shown().then_some(sum.whole));
        match candidate {
            Some(id) => {
                self.cells[id.0].hidden = true;
                true
            }
            None => false,
        }
    }

    /// Every exact value a reader can work out from the shown figures and the sums, and the
    /// sum each hidden one was worked out through.
    fn derivable(&self) -> (Vec<Option<i64>>, Vec<Option<usize>>) {
        let mut known: Vec<Option<i64>> = (0..self.cells.len()).map(|i| self.figure(CellId(i)).shown()).collect();
        let mut via = vec![None; self.cells.len()];
        loop {
            let mut changed = false;
            for (s, sum) in self.sums.iter().enumerate() {
                let unknown: Vec<CellId> = sum.parts.iter().copied().filter(|p| known[p.0].is_none()).collect();
                let parts_known: i64 = sum.parts.iter().filter_map(|p| known[p.0]).sum();
                match (known[sum.whole.0], unknown.as_slice()) {
                    (Some(whole), [only]) => {
                        known[only.0] = Some(whole - parts_known);
                        via[only.0] = Some(s);
                        changed = true;
                    }
                    (None, []) => {
                        known[sum.whole.0] = Some(parts_known);
                        via[sum.whole.0] = Some(s);
                        changed = true;
                    }
                    _ => {}
                }
            }
            if !changed {
                return (known, via);
            }
        }
    }

    fn leaks(&self) -> Vec<Leak> {
        let (known, via) = self.derivable();
        let mut leaks = Vec::new();
        for (i, cell) in self.cells.iter().enumerate() {
            if self.figure(CellId(i)).is_shown() || !(1..THRESHOLD).contains(&cell.value) {
                continue;
            }
            if let (Some(_), Some(sum)) = (known[i], via[i]) {
                leaks.push(Leak::Cell { cell: CellId(i), sum });
            }
        }
        for (s, sum) in self.sums.iter().enumerate() {
            let Some(whole) = known[sum.whole.0] else { continue };
            let unknown: Vec<CellId> = sum.parts.iter().copied().filter(|p| known[p.0].is_none()).collect();
            if unknown.is_empty() {
                continue;
            }
            let remainder = whole - sum.parts.iter().filter_map(|p| known[p.0]).sum::<i64>();
            // A hidden published count is at least 1 (zeros are shown); an implied one may be 0.
            let least: i64 = unknown.iter().map(|p| i64::from(self.cells[p.0].published)).sum();
            let pinned = remainder > 0 && remainder == least;
            if (1..THRESHOLD).contains(&remainder) || pinned {
                leaks.push(Leak::Remainder { sum: s });
            }
        }
        leaks
    }
}

/// Whether publishing `new` in place of `old` (the same figures, recounted after the data
/// changed) would let a reader isolate fewer than [`THRESHOLD`] people by subtracting one from
/// the other: a figure shown both times that moved by 1 to 4, or a figure hidden before (so
/// under 5, or hiding one that was) that would now be shown. Returns the first such figure's
/// label.
pub fn refused_republication<'a>(old: &'a [(String, Figure)], new: &[(String, Figure)]) -> Option<&'a str> {
    old.iter().find_map(|(label, before)| {
        let after = new.iter().find(|(l, _)| l == label).map(|(_, f)| *f)?;
        let isolates = match (*before, after) {
            (Figure::Shown(a), Figure::Shown(b)) => (1..THRESHOLD).contains(&(a - b).abs()),
            (Figure::Hidden, Figure::Shown(_)) => true,
            _ => false,
        };
        isolates.then_some(label.as_str())
    })
}

#[cfg(test)]
mod tests {
    use rand::{rngs::StdRng, Rng, SeedableRng};

    use super::*;

    /// A one-dimension table: categories that add up to a total.
    fn one_way(values: &[i64]) -> (Table, Vec<CellId>, CellId) {
        let mut t = Table::default();
        let total = t.count(values.iter().sum());
        let parts: Vec<CellId> = values.iter().map(|v| t.count(*v)).collect();
        t.sum(parts.clone(), total);
        t.protect();
        (t, parts, total)
    }

    #[test]
    fn a_lone_small_count_takes_another_with_it_so_the_total_cannot_give_it_away() {
        let (t, parts, total) = one_way(&[3, 12, 9, 20]);
        let shown: Vec<Figure> = parts.iter().map(|p| t.figure(*p)).collect();
        assert_eq!(shown, vec![Figure::Hidden, Figure::Shown(12), Figure::Hidden, Figure::Shown(20)]);
        assert_eq!(t.figure(total), Figure::Shown(44));
    }

    #[test]
    fn two_small_counts_that_add_up_to_under_five_need_a_third() {
        let (t, parts, _) = one_way(&[1, 2, 30, 8]);
        assert_eq!(t.figure(parts[3]), Figure::Hidden, "1 + 2 = 3 would be a group of three");
        assert_eq!(t.figure(parts[2]), Figure::Shown(30));
    }

    #[test]
    fn zeros_and_large_counts_stay_shown() {
        let (t, parts, total) = one_way(&[0, 12, 9, 20]);
        assert!(parts.iter().all(|p| t.figure(*p).is_shown()) && t.figure(total).is_shown());
    }

    #[test]
    fn a_total_that_is_itself_small_is_hidden_with_everything_that_adds_up_to_it() {
        let (t, parts, total) = one_way(&[1, 2, 0]);
        assert_eq!(t.figure(total), Figure::Hidden);
        assert_eq!(t.figure(parts[0]), Figure::Hidden);
        assert_eq!(t.figure(parts[2]), Figure::Shown(0));
    }

    #[test]
    fn awards_that_leave_a_few_declined_are_hidden_though_both_counts_are_large() {
        let mut t = Table::default();
        let applications = t.count(7);
        let awards = t.count(5);
        let declined = t.implied(2);
        t.sum(vec![awards, declined], applications);
        t.protect();
        assert_eq!((t.figure(applications), t.figure(awards)), (Figure::Shown(7), Figure::Hidden));
    }

    #[test]
    fn a_figure_shown_before_may_not_move_by_a_few_people_nor_a_hidden_one_appear() {
        let old = vec![("Wales".to_string(), Figure::Shown(8)), ("London".to_string(), Figure::Hidden)];
        let moved = vec![("Wales".to_string(), Figure::Shown(9)), ("London".to_string(), Figure::Hidden)];
        assert_eq!(refused_republication(&old, &moved), Some("Wales"));
        let appeared = vec![("Wales".to_string(), Figure::Shown(8)), ("London".to_string(), Figure::Shown(5))];
        assert_eq!(refused_republication(&old, &appeared), Some("London"));
        let fine = vec![("Wales".to_string(), Figure::Shown(15)), ("London".to_string(), Figure::Hidden)];
        assert_eq!(refused_republication(&old, &fine), None);
    }

    /// An attacker written apart from [`Table::protect`]: it reads only the published figures
    /// and the sums, subtracts the shown parts from every shown total (and every total from a
    /// shown one), repeats until nothing new comes out, and tries every pair of published
    /// figures in one sum. It reports every hidden count under 5 it pins down, and every
    /// combination of hidden counts it finds to describe 1 to 4 people.
    fn attack(t: &Table) -> Vec<String> {
        let n = t.cells.len();
        let mut known: Vec<Option<i64>> = (0..n).map(|i| t.figure(CellId(i)).shown()).collect();
        let mut found = Vec::new();
        let mut progress = true;
        while progress {
            progress = false;
            for sum in &t.sums {
                let missing: Vec<usize> = sum.parts.iter().map(|p| p.0).filter(|p| known[*p].is_none()).collect();
                let have: i64 = sum.parts.iter().filter_map(|p| known[p.0]).sum();
                if let Some(whole) = known[sum.whole.0] {
                    let rest = whole - have;
                    if missing.len() == 1 {
                        known[missing[0]] = Some(rest);
                        progress = true;
                    } else if !missing.is_empty() && (1..THRESHOLD).contains(&rest) {
                        found.push(format!("hidden parts of a sum total {rest}"));
                    } else if !missing.is_empty() && rest > 0 {
                        let least = missing.iter().filter(|p| t.cells[**p].published).count() as i64;
                        if rest == least {
                            found.push(format!("{} hidden parts must each be 1", missing.len()));
                        }
                    }
                } else if missing.is_empty() {
                    known[sum.whole.0] = Some(have);
                    progress = true;
                }
            }
        }
        for (i, v) in known.iter().enumerate() {
            if let Some(v) = v {
                if !t.figure(CellId(i)).is_shown() && (1..THRESHOLD).contains(v) {
                    found.push(format!("hidden cell {i} worked out as {v}"));
                }
            }
        }
        // Pairs: a shown whole minus one shown part is the rest of that sum.
        for sum in &t.sums {
            let Some(whole) = t.figure(sum.whole).shown() else { continue };
            for p in &sum.parts {
                if let Some(part) = t.figure(*p).shown() {
                    let others_hidden = sum.parts.iter().filter(|q| *q != p).all(|q| !t.figure(*q).is_shown());
                    if others_hidden && (1..THRESHOLD).contains(&(whole - part)) {
                        found.push(format!("{whole} - {part} isolates {}", whole - part));
                    }
                }
            }
        }
        found
    }

    /// Random tables shaped like the fairness view: categories in two dimensions, each with
    /// applications and awards (declines implied), all adding up to shared totals.
    #[test]
    fn no_random_table_gives_away_a_count_under_five_to_differencing_or_complements() {
        let mut rng = StdRng::seed_from_u64(14);
        for case in 0..3_000 {
            let mut t = Table::default();
            let dims: Vec<Vec<(i64, i64)>> = (0..2)
                .map(|_| {
                    (0..rng.gen_range(1..6))
                        .map(|_| {
                            let a = if rng.gen_bool(0.4) { rng.gen_range(0..5) } else { rng.gen_range(0..40) };
                            (a, rng.gen_range(0..=a))
                        })
                        .collect()
                })
                .collect();
            // Both dimensions describe the same applicants: make the second add up like the first.
            let total_a: i64 = dims[0].iter().map(|c| c.0).sum();
            let total_w: i64 = dims[0].iter().map(|c| c.1).sum();
            let mut second = dims[1].clone();
            let (a1, w1): (i64, i64) = (second.iter().map(|c| c.0).sum(), second.iter().map(|c| c.1).sum());
            second.push(((total_a - a1).max(0), (total_w - w1).clamp(0, (total_a - a1).max(0))));
            let fixed = [dims[0].clone(), second];
            let ta = t.count(total_a);
            let tw = t.count(fixed[0].iter().map(|c| c.1).sum());
            let td = t.implied(total_a - fixed[0].iter().map(|c| c.1).sum::<i64>());
            t.sum(vec![tw, td], ta);
            for dim in &fixed {
                if dim.iter().map(|c| c.0).sum::<i64>() != total_a || dim.iter().map(|c| c.1).sum::<i64>() != total_w {
                    continue;
                }
                let (mut aa, mut ww, mut dd) = (Vec::new(), Vec::new(), Vec::new());
                for (a, w) in dim {
                    let (ca, cw, cd) = (t.count(*a), t.count(*w), t.implied(a - w));
                    t.sum(vec![cw, cd], ca);
                    aa.push(ca);
                    ww.push(cw);
                    dd.push(cd);
                }
                t.sum(aa, ta);
                t.sum(ww, tw);
                t.sum(dd, td);
            }
            t.protect();
            let found = attack(&t);
            assert!(found.is_empty(), "case {case}: {found:?}\n{fixed:?}");
        }
    }
}
