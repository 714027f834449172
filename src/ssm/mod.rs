//! SSM Run Command: the pure tracker of a command's invocations, the limits it is sent with, and
//! the adapter over the SDK.

pub mod client;
pub mod tracker;

/// `--max-concurrency`: a positive count or a percentage 1-100% (SSM's own pattern).
pub fn parse_max_concurrency(s: &str) -> Result<String, String> {
    parse_limit(s, false).map_err(|_| {
        format!("`{s}` is not a concurrency: a number of instances (1 or more) or a percentage like 25%")
    })
}

/// `--max-errors`: a count (0 or more) or a percentage 0-100%.
pub fn parse_max_errors(s: &str) -> Result<String, String> {
    parse_limit(s, true).map_err(|_| {
        format!("`{s}` is not an error limit: a number of failed instances (0 or more) or a percentage like 10%")
    })
}

fn parse_limit(s: &str, zero_ok: bool) -> Result<String, ()> {
    let s = s.trim();
    let (digits, pct) = match s.strip_suffix('%') {
        Some(d) => (d, true),
        None => (s, false),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
        return Err(());
    }
    let n: u32 = digits.parse().map_err(|_| ())?;
    if (n == 0 && !zero_ok) || (pct && n > 100) {
        return Err(());
    }
    Ok(if pct { format!("{n}%") } else { n.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_ssm_patterns() {
        assert_eq!(parse_max_concurrency("25%").unwrap(), "25%");
        assert_eq!(parse_max_concurrency("3").unwrap(), "3");
        assert!(parse_max_concurrency("0").is_err());
        assert!(parse_max_concurrency("0%").is_err());
        assert!(parse_max_concurrency("101%").is_err());
        assert!(parse_max_concurrency("a lot").is_err());
        assert_eq!(parse_max_errors("0").unwrap(), "0");
        assert_eq!(parse_max_errors("0%").unwrap(), "0%");
        assert_eq!(parse_max_errors("100%").unwrap(), "100%");
        assert!(parse_max_errors("-1").is_err());
        assert!(parse_max_errors("%").is_err());
    }
}
