//! The usage ratio every quota figure is measured by.

/// used / (used + left); `None` when a figure is missing, negative or not finite, or both are 0.
pub fn usage_ratio(used_mb: Option<f64>, left_mb: Option<f64>) -> Option<f64> {
    let (used, left) = (used_mb?, left_mb?);
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    (valid(used) && valid(left) && used + left > 0.0).then(|| used / (used + left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_cases() {
        assert_eq!(usage_ratio(Some(80.0), Some(20.0)), Some(0.8));
        assert_eq!(usage_ratio(Some(0.0), Some(0.0)), None);
        assert_eq!(usage_ratio(None, Some(1.0)), None);
        assert_eq!(usage_ratio(Some(-5.0), Some(10.0)), None);
        assert_eq!(usage_ratio(Some(5.0), Some(-1.0)), None);
        assert_eq!(usage_ratio(Some(f64::NAN), Some(1.0)), None);
        assert_eq!(usage_ratio(Some(0.0), Some(10.0)), Some(0.0));
    }
}
