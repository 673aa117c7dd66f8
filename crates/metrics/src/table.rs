//! The per-SIM series of one rendering, stored compactly: each card's escaped identity once, the value text
//! of each value family, and the rest of its `gsl_sim_info` line. A scrape assembles lines from these
//! pre-rendered pieces with memcpy only; storing every line whole would repeat the family name and the
//! identity six times per card (about 450 bytes a card instead of about 200).

use std::sync::LazyLock;

use gsl_domain::SimCardId;

use super::text::push_header;

/// The value families, in exposition order: name and HELP. `gsl_sim_info` follows them.
pub(crate) const VALUE_FAMILIES: [(&str, &str); 5] = [
    (
        "gsl_sim_flow_used_bytes",
        "Flow used in the card's current package, as of the data day.",
    ),
    (
        "gsl_sim_flow_left_bytes",
        "Flow left in the card's current package, as of the data day.",
    ),
    (
        "gsl_sim_usage_ratio",
        "Flow used / (used + left); absent when both are 0.",
    ),
    (
        "gsl_sim_operator_status",
        "The API's operator_status code (-1 normal, 1..7 reasons for suspension).",
    ),
    (
        "gsl_sim_status",
        "The API's sim_status code (10, 11, 13, 14, 20, 30).",
    ),
];

const INFO: (&str, &str) = ("gsl_sim_info", "Descriptive labels of a card; always 1.");

/// Number of per-SIM families: the value families and `gsl_sim_info`.
pub(crate) const FAMILY_COUNT: usize = VALUE_FAMILIES.len() + 1;

/// Longest escaped identity kept as is; a longer one (never an ICCID or CID) falls back to the card id.
pub(crate) const MAX_IDENTITY: usize = u8::MAX as usize;

/// Byte lengths of one card's pieces: identity, then the five values (0 = no sample).
type Lengths = [u8; 1 + VALUE_FAMILIES.len()];

/// A card's piece, or the table's text, outgrew what its index can address.
#[derive(Debug)]
pub struct TooLarge;

/// Card `i` owns `text[starts[i]..starts[i + 1]]`: identity, values, then its info line's tail.
#[derive(Default)]
pub(crate) struct CardTable {
    text: Vec<u8>,
    starts: Vec<u32>,
    lengths: Vec<Lengths>,
    ids: Vec<SimCardId>,
}

impl CardTable {
    pub fn new() -> Self {
        Self {
            starts: vec![0],
            ..Self::default()
        }
    }

    /// Appends one card. `identity` is escaped and at most `MAX_IDENTITY` bytes; each value is at most 255
    /// bytes (a formatted f64 is under 32); `info_tail` is the info line after the identity.
    pub fn push(
        &mut self,
        sim_card_id: SimCardId,
        identity: &[u8],
        values: &[&[u8]; VALUE_FAMILIES.len()],
        info_tail: &[u8],
    ) -> Result<(), TooLarge> {
        // Checked before anything is written, so a refused card leaves the table as it was.
        let mut lengths = Lengths::default();
        lengths[0] = u8::try_from(identity.len()).map_err(|_| TooLarge)?;
        for (slot, value) in lengths[1..].iter_mut().zip(values) {
            *slot = u8::try_from(value.len()).map_err(|_| TooLarge)?;
        }
        let card_len =
            identity.len() + values.iter().map(|v| v.len()).sum::<usize>() + info_tail.len();
        let end = u32::try_from(self.text.len() + card_len).map_err(|_| TooLarge)?;
        self.text.extend_from_slice(identity);
        for value in values {
            self.text.extend_from_slice(value);
        }
        self.text.extend_from_slice(info_tail);
        self.starts.push(end);
        self.lengths.push(lengths);
        self.ids.push(sim_card_id);
        Ok(())
    }

    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.starts.shrink_to_fit();
        self.lengths.shrink_to_fit();
        self.ids.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn sim_card_id(&self, card: usize) -> SimCardId {
        self.ids[card]
    }

    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.starts.capacity() * 4
            + self.lengths.capacity() * std::mem::size_of::<Lengths>()
            + self.ids.capacity() * std::mem::size_of::<SimCardId>()
    }

    /// Appends card `card`'s line of family `family` (0..FAMILY_COUNT), or nothing when it has no sample.
    pub fn push_line(&self, family: usize, card: usize, out: &mut Vec<u8>) {
        let prefix = &HEADS.prefixes[family];
        let start = self.starts[card] as usize;
        let lengths = &self.lengths[card];
        let id_end = start + usize::from(lengths[0]);
        let identity = &self.text[start..id_end];
        let before: usize = lengths[1..=family.min(VALUE_FAMILIES.len())]
            .iter()
            .map(|&n| usize::from(n))
            .sum();
        let from = id_end + before;
        if family < VALUE_FAMILIES.len() {
            let value = &self.text[from..from + usize::from(lengths[family + 1])];
            if value.is_empty() {
                return;
            }
            out.extend_from_slice(prefix);
            out.extend_from_slice(identity);
            out.extend_from_slice(b"\"} ");
            out.extend_from_slice(value);
            out.push(b'\n');
        } else {
            out.extend_from_slice(prefix);
            out.extend_from_slice(identity);
            out.extend_from_slice(&self.text[from..self.starts[card + 1] as usize]);
        }
    }
}

/// The HELP/TYPE header of per-SIM family `family` (0..FAMILY_COUNT).
pub(crate) fn header(family: usize) -> &'static [u8] {
    &HEADS.headers[family]
}

/// Per family: the HELP/TYPE header and the start of every line, `name{iccid="`; the same for every rendering.
static HEADS: LazyLock<LineHeads> = LazyLock::new(LineHeads::new);

struct LineHeads {
    headers: [Vec<u8>; FAMILY_COUNT],
    prefixes: [Vec<u8>; FAMILY_COUNT],
}

impl LineHeads {
    fn new() -> Self {
        let all = VALUE_FAMILIES.iter().chain([&INFO]);
        let mut headers: [Vec<u8>; FAMILY_COUNT] = Default::default();
        let mut prefixes: [Vec<u8>; FAMILY_COUNT] = Default::default();
        for (i, (name, help)) in all.enumerate() {
            push_header(&mut headers[i], name, "gauge", help);
            prefixes[i] = format!("{name}{{iccid=\"").into_bytes();
        }
        Self { headers, prefixes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &CardTable, family: usize) -> String {
        let mut out = Vec::new();
        for card in 0..t.len() {
            t.push_line(family, card, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn assembles_each_family_from_the_shared_identity() {
        let mut t = CardTable::new();
        t.push(
            7.into(),
            b"ICC7",
            &[b"1", b"2", b"", b"-1", b"20"],
            b"\",x=\"y\"} 1\n",
        )
        .unwrap();
        t.push(
            8.into(),
            b"ICC8",
            &[b"3", b"", b"0.5", b"", b""],
            b"\"} 1\n",
        )
        .unwrap();
        assert_eq!(
            lines(&t, 0),
            "gsl_sim_flow_used_bytes{iccid=\"ICC7\"} 1\ngsl_sim_flow_used_bytes{iccid=\"ICC8\"} 3\n"
        );
        assert_eq!(lines(&t, 2), "gsl_sim_usage_ratio{iccid=\"ICC8\"} 0.5\n");
        assert_eq!(lines(&t, 4), "gsl_sim_status{iccid=\"ICC7\"} 20\n");
        assert_eq!(
            lines(&t, 5),
            "gsl_sim_info{iccid=\"ICC7\",x=\"y\"} 1\ngsl_sim_info{iccid=\"ICC8\"} 1\n"
        );
        assert_eq!((t.sim_card_id(0).get(), t.sim_card_id(1).get()), (7, 8));
    }

    #[test]
    fn an_oversized_piece_is_an_error_not_a_panic() {
        let mut t = CardTable::new();
        let long = vec![b'x'; 256];
        assert!(t.push(1.into(), &long, &[b""; 5], b"").is_err());
        assert!(t
            .push(1.into(), b"id", &[&long, b"", b"", b"", b""], b"")
            .is_err());
        assert_eq!(t.len(), 0);
        t.push(2.into(), b"ok", &[b"1"; 5], b"\"} 1\n").unwrap();
        assert_eq!(lines(&t, 5), "gsl_sim_info{iccid=\"ok\"} 1\n");
    }
}
