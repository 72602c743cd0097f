//! Errors in words a user can act on, and the one rule for every message: no secret, no URL
//! signature, ever.

use std::fmt::Write;

/// An error of object storage, already worded for the user and free of secrets.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudError {
    /// The command line names a location that cannot be used as written.
    #[error("{message}")]
    Usage {
        /// What is wrong and how to write it.
        message: String,
    },
    /// The service refused or failed a request.
    #[error("{message}")]
    Service {
        /// The object or prefix, what failed, and what to check.
        message: String,
    },
}

/// Every secret value this run knows of (secret keys, session tokens, URL signatures):
/// [`redact`](Secrets::redact) removes them, and URL query strings, from any text.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// Remembers `value` as secret.
    pub fn add(&mut self, value: &str) {
        if !value.is_empty() {
            self.values.push(value.to_string());
        }
    }

    /// `text` without any known secret and without the query string of any URL in it.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            out = out.replace(v.as_str(), "[redacted]");
        }
        strip_queries(&out)
    }
}

/// Removes the query string of every `http://` or `https://` URL in `text`.
fn strip_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let url_end = rest[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
            .map_or(rest.len(), |e| start + e);
        let url = &rest[start..url_end];
        match url.split_once('?') {
            Some((base, _)) => {
                out.push_str(base);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

fn find_url(text: &str) -> Option<usize> {
    match (text.find("http://"), text.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a failed request means, for the user: the object, what was done, the service's
/// error code when there is one, and what to check.
pub(crate) fn describe(
    error: &object_store::Error,
    what: &str,
    location: &str,
    context: &Context<'_>,
) -> CloudError {
    let raw = context.secrets.redact(&chain(error));
    let code = service_code(&raw);
    let mut message = format!("{location}: {what} failed");
    let hint = match (error, code.as_deref()) {
        (_, Some("SignatureDoesNotMatch" | "AccessDenied" | "InvalidAccessKeyId" | "ExpiredToken"))
        | (object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }, _)
            if context.bucket.is_empty() =>
        {
            format!(
                "the server refused the link ({}): a presigned link expires and breaks when altered; get a fresh one",
                code.as_deref().unwrap_or("403")
            )
        }
        (_, Some("SignatureDoesNotMatch" | "InvalidAccessKeyId" | "AccessDenied" | "InvalidToken" | "ExpiredToken"))
        | (object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }, _) => {
            format!(
                "the service refused the credentials for bucket {} ({}); credentials were read from {}: check the key ID, the secret and the session token, and that they may access this bucket",
                context.bucket,
                code.as_deref().unwrap_or("403"),
                context.credentials
            )
        }
        (_, Some("NoSuchBucket")) => format!(
            "bucket {} does not exist (NoSuchBucket); check the bucket name and the endpoint/region",
            context.bucket
        ),
        (_, Some("SecondLevelDomainForbidden")) => "Alibaba OSS refuses path-style requests (SecondLevelDomainForbidden): write the location as oss://BUCKET/KEY with --region REGION instead of s3:// with --endpoint".to_string(),
        (object_store::Error::NotFound { .. }, _) => "no such object (404)".to_string(),
        _ if raw.contains("retries") => {
            match retries(&raw) {
                Some((n, secs)) => format!("the service kept failing: gave up after {n} retries over {secs}"),
                None => "the service kept failing".to_string(),
            }
        }
        _ => String::new(),
    };
    if !hint.is_empty() {
        let _ = write!(message, ": {hint}");
    }
    let _ = write!(message, " [{}]", shorten(&raw, 600));
    CloudError::Service { message }
}

/// Who is asked, for [`describe`]'s messages.
pub(crate) struct Context<'a> {
    pub bucket: &'a str,
    pub credentials: &'a str,
    pub secrets: &'a Secrets,
}

/// The error and its sources in one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut s = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let t = e.to_string();
        if !s.contains(&t) {
            let _ = write!(s, ": {t}");
        }
        next = e.source();
    }
    s
}

/// The `<Code>` of an S3 error body.
fn service_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + 6;
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_string())
}

/// "after N retries … in T" of an object_store retry error.
fn retries(text: &str) -> Option<(String, String)> {
    let after = text.find("after ")? + 6;
    let n: String = text[after..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let elapsed = text.find(" in ").map(|i| {
        text[i + 4..]
            .split([',', ' '])
            .next()
            .unwrap_or("")
            .to_string()
    })?;
    (!n.is_empty()).then_some((n, elapsed))
}

fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_signatures_never_show() {
        let mut s = Secrets::default();
        s.add("wJalrXUtnFEMI");
        let text = "Error performing GET https://h.example/b/k?X-Amz-Signature=abcdef&X-Amz-Credential=AKIA in 1s - key wJalrXUtnFEMI <Code>AccessDenied</Code>";
        let r = s.redact(text);
        assert!(
            !r.contains("abcdef") && !r.contains("wJalrXUtnFEMI") && !r.contains("AKIA"),
            "{r}"
        );
        assert!(r.contains("https://h.example/b/k?…"), "{r}");
        assert_eq!(service_code(&r).as_deref(), Some("AccessDenied"));
    }

    #[test]
    fn retry_counts_are_read() {
        let t = "Error performing PUT http://x/y in 181.2s, after 10 retries, max_retries: 10";
        assert_eq!(retries(t), Some(("10".into(), "181.2s".into())));
    }
}
