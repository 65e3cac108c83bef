//! The spill codec: how a streamed run writes each row of a kind to a partition file between its
//! two passes, and reads it back.

// (`spill` is this module: its functions are named as their callers name them, `spill::str`)
use super::{spill, Bills, Consumption, Incentives, Sink};

/// Rows that a streamed run spills to partition files between its two passes: each row's typed
/// values and provenance, written and read back exactly (no text is parsed twice, so nothing can
/// be rejected in the second pass).
pub(crate) trait Spill: Sink {
    /// The trade id and service type of row `i`: what decides its partition.
    fn partition_key(&self, i: usize) -> (&str, &str);
    /// Row `i`'s customer id (`None` when the row has none).
    fn customer(&self, i: usize) -> Option<&str>;
    fn rows(&self) -> usize;
    fn encode(&self, i: usize, out: &mut Vec<u8>);
    /// Reads one row written by `encode`; `None` at the end of `input` or on a short record.
    fn decode(&mut self, input: &mut &[u8]) -> Option<()>;
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

pub fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(s) => put_str(out, s),
    }
}

pub fn put_opt_i128(out: &mut Vec<u8>, v: Option<i128>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

pub fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

pub fn u32(input: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(input, 4)?.try_into().ok()?))
}

pub fn i32(input: &mut &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(take(input, 4)?.try_into().ok()?))
}

pub fn i64(input: &mut &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(take(input, 8)?.try_into().ok()?))
}

pub fn i128(input: &mut &[u8]) -> Option<i128> {
    Some(i128::from_le_bytes(take(input, 16)?.try_into().ok()?))
}

pub fn opt_i128(input: &mut &[u8]) -> Option<Option<i128>> {
    match take(input, 1)?[0] {
        0 => Some(None),
        _ => Some(Some(i128(input)?)),
    }
}

pub fn str<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
    let n = u32(input)? as usize;
    std::str::from_utf8(take(input, n)?).ok()
}

pub fn opt_str<'a>(input: &mut &'a [u8]) -> Option<Option<&'a str>> {
    let n = u32(input)?;
    if n == u32::MAX {
        return Some(None);
    }
    std::str::from_utf8(take(input, n as usize)?).ok().map(Some)
}

impl Spill for Consumption {
    fn partition_key(&self, i: usize) -> (&str, &str) {
        (&self.trade_id[i], &self.service[i])
    }

    fn customer(&self, i: usize) -> Option<&str> {
        Some(&self.customer_id[i])
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cycle[i].to_le_bytes());
        spill::put_str(out, &self.customer_id[i]);
        spill::put_opt_str(out, self.customer_name.get(i));
        out.extend_from_slice(&self.assoc[i].to_le_bytes());
        spill::put_str(out, &self.service[i]);
        out.extend_from_slice(&self.mode[i].to_le_bytes());
        spill::put_str(out, &self.trade_id[i]);
        out.extend_from_slice(&self.ts[i].to_le_bytes());
        out.extend_from_slice(&self.day[i].to_le_bytes());
        out.extend_from_slice(&self.payment[i].to_le_bytes());
        out.extend_from_slice(&(self.counted.len() as u32).to_le_bytes());
        for c in &self.counted {
            out.extend_from_slice(&c[i].to_le_bytes());
        }
    }

    fn decode(&mut self, input: &mut &[u8]) -> Option<()> {
        let cycle = spill::i32(input)?;
        let customer_id = spill::str(input)?;
        let customer_name = spill::opt_str(input)?;
        let assoc = spill::i32(input)?;
        let service = spill::str(input)?;
        let mode = spill::i32(input)?;
        let trade_id = spill::str(input)?;
        let ts = spill::i64(input)?;
        let day = spill::i32(input)?;
        let payment = spill::i128(input)?;
        let n = spill::u32(input)? as usize;
        if self.counted.len() < n {
            self.counted.resize(n, Vec::new());
        }
        for c in self.counted.iter_mut().take(n) {
            c.push(spill::i128(input)?);
        }
        self.cycle.push(cycle);
        self.customer_id.push(customer_id);
        self.customer_name.push(customer_name);
        self.assoc.push(assoc);
        self.service.push(service);
        self.mode.push(mode);
        self.trade_id.push(trade_id);
        self.ts.push(ts);
        self.day.push(day);
        self.payment.push(payment);
        Some(())
    }
}

impl Spill for Incentives {
    fn partition_key(&self, i: usize) -> (&str, &str) {
        (&self.trade_id[i], &self.service[i])
    }

    fn customer(&self, i: usize) -> Option<&str> {
        self.customer_id.get(i)
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.period[i].to_le_bytes());
        spill::put_str(out, &self.trade_id[i]);
        spill::put_str(out, &self.service[i]);
        spill::put_opt_str(out, self.customer_id.get(i));
        spill::put_opt_str(out, self.customer_name.get(i));
        out.extend_from_slice(&self.mode[i].to_le_bytes());
        spill::put_opt_i128(out, self.base[i]);
        spill::put_opt_i128(out, self.rate[i]);
        out.extend_from_slice(&self.amount[i].to_le_bytes());
        spill::put_str(out, &self.dup_key[i]);
    }

    fn decode(&mut self, input: &mut &[u8]) -> Option<()> {
        let period = spill::i32(input)?;
        let trade_id = spill::str(input)?;
        let service = spill::str(input)?;
        let customer_id = spill::opt_str(input)?;
        let customer_name = spill::opt_str(input)?;
        let mode = spill::i32(input)?;
        let base = spill::opt_i128(input)?;
        let rate = spill::opt_i128(input)?;
        let amount = spill::i128(input)?;
        let dup_key = spill::str(input)?;
        self.period.push(period);
        self.trade_id.push(trade_id);
        self.service.push(service);
        self.customer_id.push(customer_id);
        self.customer_name.push(customer_name);
        self.mode.push(mode);
        self.base.push(base);
        self.rate.push(rate);
        self.amount.push(amount);
        self.dup_key.push(dup_key);
        Some(())
    }
}

impl Spill for Bills {
    /// (A line without a trade id goes to the first partition: its cycle is compared by
    /// customer, whose groups a streamed run merges across partitions.)
    fn partition_key(&self, i: usize) -> (&str, &str) {
        (&self.trade_id[i], &self.service[i])
    }

    fn customer(&self, i: usize) -> Option<&str> {
        Some(&self.customer_id[i])
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cycle[i].to_le_bytes());
        spill::put_str(out, &self.customer_id[i]);
        spill::put_opt_str(out, self.customer_name[i].as_deref());
        spill::put_str(out, &self.service[i]);
        out.extend_from_slice(&self.amount[i].to_le_bytes());
        spill::put_str(out, &self.trade_id[i]);
        out.extend_from_slice(&self.mode[i].to_le_bytes());
    }

    fn decode(&mut self, input: &mut &[u8]) -> Option<()> {
        let cycle = spill::i32(input)?;
        let customer_id = spill::str(input)?;
        let customer_name = spill::opt_str(input)?;
        let service = spill::str(input)?;
        let amount = spill::i128(input)?;
        let trade_id = spill::str(input)?;
        let mode = spill::i32(input)?;
        self.cycle.push(cycle);
        self.customer_id.push(customer_id.to_string());
        self.customer_name.push(customer_name.map(str::to_string));
        self.service.push(service.to_string());
        self.amount.push(amount);
        self.trade_id.push(trade_id.to_string());
        self.mode.push(mode);
        Some(())
    }
}
