//! Prometheus text format 0.0.4 primitives: label escaping, values, HELP/TYPE headers.

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type of OpenMetrics text.
pub const OPEN_METRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition format of a scrape. Every pre-rendered family is a gauge, whose lines are the same in
/// both; OpenMetrics adds only the closing `# EOF` (and names counter families without `_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Prometheus,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => CONTENT_TYPE,
            Format::OpenMetrics => OPEN_METRICS_CONTENT_TYPE,
        }
    }

    /// Picks what an `Accept` header prefers: OpenMetrics 1.0.0 when its quality is at least that of
    /// `text/plain` (Prometheus sends both, OpenMetrics first), the 0.0.4 text otherwise.
    pub fn negotiate(accept: &str) -> Format {
        let mut open_metrics: f32 = -1.0;
        let mut plain: f32 = -1.0;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for p in parts {
                if let Some(v) = p.strip_prefix("q=") {
                    q = v.trim().parse().unwrap_or(0.0);
                } else if let Some(v) = p.strip_prefix("version=") {
                    version = Some(v.trim().to_owned());
                }
            }
            match media.as_str() {
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    open_metrics = open_metrics.max(q)
                }
                "text/plain" | "*/*" => plain = plain.max(q),
                _ => {}
            }
        }
        if open_metrics > 0.0 && open_metrics >= plain {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// Bytes in one GSL "MB" (docs/reference.md: 1 MB = 1,048,576 bytes).
pub const BYTES_PER_MB: f64 = 1_048_576.0;

/// Converts the API's MB to bytes.
pub fn mb_to_bytes(mb: f64) -> f64 {
    mb * BYTES_PER_MB
}

/// Appends `value` escaped for a label value: backslash, double quote and line feed.
pub fn push_label_value(out: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Appends a sample value the way Prometheus parses it (`+Inf`, `-Inf`, `NaN`, shortest round-trip decimals).
pub fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
        // Whole numbers (bytes, counts) print as integers: shorter and faster than float formatting.
        push_i64(out, v as i64);
    } else {
        use std::io::Write;
        let _ = write!(out, "{v}");
    }
}

pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends the `# HELP` and `# TYPE` lines of a family.
pub fn push_header(out: &mut Vec<u8>, name: &str, kind: &str, help: &str) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    // HELP text escapes only backslash and line feed.
    for b in help.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
}

/// Appends one sample line: `name{l1="v1",...} value`.
pub fn push_sample(out: &mut Vec<u8>, name: &str, labels: &[(&str, &str)], value: f64) {
    out.extend_from_slice(name.as_bytes());
    if !labels.is_empty() {
        out.push(b'{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"=\"");
            push_label_value(out, v);
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    push_f64(out, value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_the_format() {
        // Prometheus 2.x's default.
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(prom), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate("text/plain;version=0.0.4"),
            Format::Prometheus
        );
        assert_eq!(Format::negotiate(""), Format::Prometheus);
        assert_eq!(Format::negotiate("*/*"), Format::Prometheus);
        assert_eq!(
            Format::negotiate("application/openmetrics-text;version=0.0.1"),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate("text/plain;q=0.9, application/openmetrics-text;q=0.5"),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate("application/openmetrics-text;q=0"),
            Format::Prometheus
        );
    }

    fn escaped(v: &str) -> String {
        let mut out = Vec::new();
        push_label_value(&mut out, v);
        String::from_utf8(out).expect("utf-8 in, utf-8 out")
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline_and_keep_utf8() {
        for (input, expected) in [
            ("plain", "plain"),
            ("a\"b", "a\\\"b"),
            ("a\\b", "a\\\\b"),
            ("line\nbreak", "line\\nbreak"),
            ("中国移动 1GB 月包", "中国移动 1GB 月包"),
            ("\\\"\n", "\\\\\\\"\\n"),
            ("", ""),
        ] {
            assert_eq!(escaped(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn values_print_as_prometheus_parses_them() {
        for (v, expected) in [
            (0.0, "0"),
            (1073741824.0, "1073741824"),
            (-1.0, "-1"),
            (0.25, "0.25"),
            (1.5e20, "150000000000000000000"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            let mut out = Vec::new();
            push_f64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "value {v}");
        }
    }

    #[test]
    fn mb_convert_to_binary_bytes() {
        for (mb, bytes) in [
            (0.0, 0.0),
            (1.0, 1_048_576.0),
            (1024.0, 1_073_741_824.0),
            (0.5, 524_288.0),
        ] {
            assert_eq!(mb_to_bytes(mb), bytes);
        }
    }

    #[test]
    fn samples_and_headers_follow_the_text_format() {
        let mut out = Vec::new();
        push_header(&mut out, "x_bytes", "gauge", "Some\\help\nhere.");
        push_sample(&mut out, "x_bytes", &[("a", "1"), ("b", "q\"")], 2.0);
        push_sample(&mut out, "x_bytes", &[], 3.5);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP x_bytes Some\\\\help\\nhere.\n# TYPE x_bytes gauge\nx_bytes{a=\"1\",b=\"q\\\"\"} 2\nx_bytes 3.5\n"
        );
    }
}
