//! Text columns stored as one buffer and the end of each value, instead of a `String` per row:
//! a row of consumption carries three or four texts, and allocating, copying and freeing each
//! of them separately was a large share of reading and of reconciling a partition.

use std::ops::Index;

/// The texts of one column, one after another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    bytes: String,
    ends: Vec<usize>,
}

impl Texts {
    pub fn push(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
    }

    /// Pushes the concatenation of `parts` as one value.
    pub fn push_parts(&mut self, parts: &[&str]) {
        for p in parts {
            self.bytes.push_str(p);
        }
        self.ends.push(self.bytes.len());
    }

    /// Pushes `prefix` followed by `items` joined with `sep` as one value.
    pub fn push_joined(&mut self, prefix: &str, items: &[&str], sep: &str) {
        self.bytes.push_str(prefix);
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.bytes.push_str(sep);
            }
            self.bytes.push_str(it);
        }
        self.ends.push(self.bytes.len());
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Room for `n` more values of about `bytes_each` bytes.
    pub fn reserve(&mut self, n: usize, bytes_each: usize) {
        self.ends.reserve(n);
        self.bytes.reserve(n * bytes_each);
    }

    /// Moves the values of `other` to the end of this column.
    pub fn append(&mut self, other: &mut Texts) {
        let base = self.bytes.len();
        self.bytes.push_str(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
        *other = Texts::default();
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

impl Index<usize> for Texts {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        self.get(i)
    }
}

impl<'a> FromIterator<&'a str> for Texts {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Texts {
        let mut t = Texts::default();
        for s in iter {
            t.push(s);
        }
        t
    }
}

/// A text column whose values may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptTexts {
    texts: Texts,
    present: Vec<bool>,
}

impl OptTexts {
    pub fn push(&mut self, s: Option<&str>) {
        self.texts.push(s.unwrap_or(""));
        self.present.push(s.is_some());
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        self.present[i].then(|| self.texts.get(i))
    }

    pub fn len(&self) -> usize {
        self.present.len()
    }

    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    pub fn reserve(&mut self, n: usize, bytes_each: usize) {
        self.texts.reserve(n, bytes_each);
        self.present.reserve(n);
    }

    pub fn append(&mut self, other: &mut OptTexts) {
        self.texts.append(&mut other.texts);
        self.present.append(&mut other.present);
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_keep_values_apart_and_append() {
        let mut a: Texts = ["T1", "", "服务"].into_iter().collect();
        let mut b: Texts = ["x", "yz"].into_iter().collect();
        a.append(&mut b);
        assert!(b.is_empty());
        assert_eq!(a.iter().collect::<Vec<_>>(), vec!["T1", "", "服务", "x", "yz"]);
        assert_eq!(&a[2], "服务");
        let mut o = OptTexts::default();
        o.push(Some("a"));
        o.push(None);
        o.push(Some(""));
        let mut p = OptTexts::default();
        p.push(None);
        o.append(&mut p);
        assert_eq!(o.iter().collect::<Vec<_>>(), vec![Some("a"), None, Some(""), None]);
    }

    #[test]
    fn parts_and_joins_are_one_value_each() {
        let mut t = Texts::default();
        t.push_parts(&["id:", "IN1"]);
        t.push_joined("row:", &["a", "", "b c"], "\u{1f}");
        t.push_joined("row:", &[], ",");
        t.push("z");
        assert_eq!(t.iter().collect::<Vec<_>>(), vec!["id:IN1", "row:a\u{1f}\u{1f}b c", "row:", "z"]);
        assert_eq!(t.get(1), format!("row:{}", ["a", "", "b c"].join("\u{1f}")));
    }
}
