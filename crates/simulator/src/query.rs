//! Query-string access with GSL's range checks: any violation becomes 400 `GSL.00010004`.

use super::server::Reply;

#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// An integer in `lo..=hi`, if present.
    pub fn int(&self, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
                _ => Err(Reply::bad_param()),
            },
        }
    }

    /// Every value of a repeated integer key; at most `max` of them.
    pub fn ints(&self, key: &str, max: usize) -> Result<Vec<i64>, Reply> {
        let all = self.all(key);
        if all.len() > max {
            return Err(Reply::bad_param());
        }
        all.iter()
            .map(|v| v.parse().map_err(|_| Reply::bad_param()))
            .collect()
    }

    pub fn one_of(&self, key: &str, allowed: &[i64]) -> Result<Option<i64>, Reply> {
        match self.int(key, i64::MIN, i64::MAX)? {
            Some(n) if !allowed.contains(&n) => Err(Reply::bad_param()),
            other => Ok(other),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(Reply::bad_param()),
        }
    }

    /// A string of at most `max` characters, if present.
    pub fn text(&self, key: &str, max: usize) -> Result<Option<&str>, Reply> {
        match self.get(key) {
            Some(v) if v.chars().count() > max => Err(Reply::bad_param()),
            other => Ok(other),
        }
    }

    /// `limit` (10..=500, default 10) and `offset` (page 1..=1000000, default 1).
    pub fn paging(&self) -> Result<(u64, u64), Reply> {
        let limit = self.int("limit", 10, 500)?.unwrap_or(10) as u64;
        let page = self.int("offset", 1, 1_000_000)?.unwrap_or(1) as u64;
        Ok((limit, page))
    }
}

/// A list page `{limit, offset, count, <key>: [...]}` from all matching items.
pub fn page_of<T: Clone>(items: &[T], limit: u64, page: u64) -> Vec<T> {
    let start = ((page - 1) * limit) as usize;
    items
        .iter()
        .skip(start)
        .take(limit as usize)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_ranges() {
        for (raw, ok) in [
            ("", Some((10, 1))),
            ("limit=500&offset=1000000", Some((500, 1_000_000))),
            ("limit=9", None),
            ("limit=501", None),
            ("offset=0", None),
            ("offset=1000001", None),
            ("limit=x", None),
        ] {
            assert_eq!(Query::parse(raw).paging().ok(), ok, "{raw}");
        }
    }
}
