//! Text-format COPY encoding: rows become tab-separated lines with `\N` for NULL and the format's escapes.

use chrono::{DateTime, NaiveDate, Utc};

/// Appends fields of one row; `end()` closes the line.
pub struct CopyLine<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

pub trait CopyField {
    fn write(&self, out: &mut Vec<u8>);
}

impl<'a> CopyLine<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, first: true }
    }

    pub fn field<T: CopyField + ?Sized>(mut self, value: &T) -> Self {
        if !self.first {
            self.out.push(b'\t');
        }
        self.first = false;
        value.write(self.out);
        self
    }

    pub fn end(self) {
        self.out.push(b'\n');
    }
}

const NULL: &[u8] = b"\\N";

impl CopyField for str {
    fn write(&self, out: &mut Vec<u8>) {
        for b in self.bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.push(b),
            }
        }
    }
}

impl CopyField for String {
    fn write(&self, out: &mut Vec<u8>) {
        self.as_str().write(out)
    }
}

impl CopyField for i64 {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
    }
}

/// Ids are their bare number, like `i64` (itoa, not `Display`, on this hot path).
impl CopyField for gsl_domain::SimCardId {
    fn write(&self, out: &mut Vec<u8>) {
        self.get().write(out)
    }
}

impl CopyField for gsl_domain::PoolId {
    fn write(&self, out: &mut Vec<u8>) {
        self.get().write(out)
    }
}

impl CopyField for i32 {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
    }
}

impl CopyField for f64 {
    fn write(&self, out: &mut Vec<u8>) {
        if self.is_finite() {
            // Display prints the shortest string that reads back to the same double.
            out.extend_from_slice(self.to_string().as_bytes());
        } else {
            out.extend_from_slice(NULL);
        }
    }
}

impl CopyField for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(if *self { b't' } else { b'f' });
    }
}

impl CopyField for NaiveDate {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.format("%Y-%m-%d").to_string().as_bytes());
    }
}

impl CopyField for DateTime<Utc> {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            self.format("%Y-%m-%d %H:%M:%S%.6f+00")
                .to_string()
                .as_bytes(),
        );
    }
}

impl<T: CopyField> CopyField for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write(out),
            None => out.extend_from_slice(NULL),
        }
    }
}

impl<T: CopyField + ?Sized> CopyField for &T {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(build: impl FnOnce(CopyLine) -> CopyLine) -> String {
        let mut out = Vec::new();
        build(CopyLine::new(&mut out)).end();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_and_nulls() {
        let cases: Vec<(String, &str)> = vec![
            (line(|l| l.field("a\tb").field("c\nd")), "a\\tb\tc\\nd\n"),
            (line(|l| l.field("back\\slash\r")), "back\\\\slash\\r\n"),
            (
                line(|l| l.field(&None::<String>).field(&Some(7i64))),
                "\\N\t7\n",
            ),
            (
                line(|l| l.field("物联网卡流量包-10GB")),
                "物联网卡流量包-10GB\n",
            ),
            (
                line(|l| l.field(&f64::NAN).field(&0.1f64).field(&true)),
                "\\N\t0.1\tt\n",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[sqlx::test]
    async fn postgres_reads_back_exactly_what_was_encoded(pool: sqlx::PgPool) {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("CREATE TEMP TABLE t (s text, f double precision, d date, ts timestamptz)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let nasty = "tab\there\nnew\\line \u{7f} 中文 \"quoted\"";
        let ts: DateTime<Utc> = "2020-01-31T16:00:00.123Z".parse().unwrap();
        let mut buf = Vec::new();
        CopyLine::new(&mut buf)
            .field(nasty)
            .field(&1234.5678f64)
            .field(&NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
            .field(&ts)
            .end();
        let mut copy = conn.copy_in_raw("COPY t FROM STDIN").await.unwrap();
        copy.send(buf).await.unwrap();
        copy.finish().await.unwrap();
        let (s, f, d, t): (String, f64, NaiveDate, DateTime<Utc>) =
            sqlx::query_as("SELECT s, f, d, ts FROM t")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(
            (s.as_str(), f, d, t),
            (
                nasty,
                1234.5678,
                NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                ts
            )
        );
    }
}
