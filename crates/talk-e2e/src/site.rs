use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

/// One file of a host site, with the headers it is served with.
pub struct SitePage {
    pub path: String,
    pub body: String,
    pub content_type: &'static str,
    /// The page's Content-Security-Policy header, if any.
    pub csp: Option<String>,
}

impl SitePage {
    pub fn html(path: &str, body: String, csp: Option<String>) -> SitePage {
        SitePage {
            path: path.into(),
            body,
            content_type: "text/html; charset=utf-8",
            csp,
        }
    }

    pub fn script(path: &str, body: String) -> SitePage {
        SitePage {
            path: path.into(),
            body,
            content_type: "text/javascript",
            csp: None,
        }
    }
}

/// A customer's website on its own origin (another port), serving fixed pages. Embedding the
/// widget from there exercises what the demo page can't: cross-origin loading and CORS.
pub struct HostSite {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl HostSite {
    pub async fn start(pages: Vec<(&str, String)>) -> HostSite {
        let mut router = Router::new();
        for (path, html) in pages {
            router = router.route(path, get(move || async move { Html(html) }));
        }
        HostSite::serve(router).await
    }

    /// A site whose files carry their own headers (e.g. each page's CSP).
    pub async fn start_with(pages: Vec<SitePage>) -> HostSite {
        let mut router = Router::new();
        for page in pages {
            let SitePage {
                path,
                body,
                content_type,
                csp,
            } = page;
            router = router.route(
                &path,
                get(move || async move {
                    let mut response =
                        ([(header::CONTENT_TYPE, content_type)], body).into_response();
                    if let Some(csp) = csp {
                        response.headers_mut().insert(
                            header::CONTENT_SECURITY_POLICY,
                            csp.parse().expect("a header value"),
                        );
                    }
                    response
                }),
            );
        }
        HostSite::serve(router).await
    }

    /// A site with a backend of its own (routes beyond fixed pages, e.g. one that calls
    /// Talk's API with the site's API key).
    pub async fn serve(router: Router) -> HostSite {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("host site");
        });
        HostSite { url, task }
    }
}

impl Drop for HostSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A host page carrying the seed's capture snippet verbatim, pointed at `talk_url`, with
/// `options` as the third argument of `ap3c.init` and `before` run first (to register callbacks).
pub fn page_with_snippet(capture_key: &str, talk_url: &str, options: &str, before: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title><link rel="icon" href="data:,">
<script>
{}
</script>
</head><body><h1>A customer's shop</h1></body></html>"#,
        snippet_script(capture_key, talk_url, options, before)
    )
}

/// The seed's capture snippet (the script's text), as in [`page_with_snippet`].
pub fn snippet_script(capture_key: &str, talk_url: &str, options: &str, before: &str) -> String {
    format!(
        r#"window.ap3c = window.ap3c || {{}};
var ap3c = window.ap3c;
ap3c.cmd = ap3c.cmd || [];
{before}
ap3c.cmd.push(function() {{
  ap3c.init('{capture_key}', '{talk_url}/', {options});
  ap3c.track({{v: 0}});
}});
ap3c.activity = function(act) {{ ap3c.act = (ap3c.act || []); ap3c.act.push(act); }};
var s, t; s = document.createElement('script'); s.type = 'text/javascript'; s.src = "{talk_url}/app.js";
t = document.getElementsByTagName('script')[0]; t.parentNode.insertBefore(s, t);"#
    )
}
