//! A local HTTP server for the tests (staging deploy.json, GitHub's REST API, Slack webhooks):
//! canned responses by method and path, and a record of every request it received.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path with the query string, e.g. `/repos/o/r/pulls?state=open`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Response {
            status,
            body: body.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Response {
            status,
            body: body.to_string(),
            headers: vec![],
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

struct Route {
    method: String,
    /// Matched against the path; with a `?` it must match path and query exactly.
    path: String,
    /// Served in order; the last one repeats.
    responses: Vec<Response>,
    served: usize,
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    requests: Vec<Request>,
}

/// Serves `app` on a free loopback port, on a thread of its own with its own runtime, until the
/// returned sender fires or is dropped. Every local server of the tests starts this way.
pub fn serve(
    app: axum::Router,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
    });
    (url, tx, thread)
}

pub struct HttpServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    _thread: std::thread::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl HttpServer {
    /// Starts on a free loopback port in a thread of its own.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let st = st.clone();
            async move { handle(&st, m, u, h, b) }
        });
        let (url, tx, thread) = serve(app);
        HttpServer {
            url,
            state,
            _thread: thread,
            shutdown: Some(tx),
        }
    }

    /// Serves `response` for `method path` (every time, or in sequence when added repeatedly).
    pub fn route(&self, method: &str, path: &str, response: Response) -> &Self {
        let mut st = self.state.lock().unwrap();
        if let Some(r) = st
            .routes
            .iter_mut()
            .find(|r| r.method == method && r.path == path)
        {
            r.responses.push(response);
        } else {
            st.routes.push(Route {
                method: method.into(),
                path: path.into(),
                responses: vec![response],
                served: 0,
            });
        }
        self
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests for one method and path prefix.
    pub fn requests_to(&self, method: &str, path_prefix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(path_prefix))
            .collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn handle(
    st: &Mutex<State>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Bytes,
) -> axum::response::Response {
    let full = u
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| u.path().to_string());
    let mut st = st.lock().unwrap();
    st.requests.push(Request {
        method: m.to_string(),
        path: full.clone(),
        headers: h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&b).into_owned(),
    });
    let route = st
        .routes
        .iter_mut()
        .find(|r| r.method == m.as_str() && r.path == full)
        .or(None);
    let route = match route {
        Some(r) => Some(r),
        None => st
            .routes
            .iter_mut()
            .find(|r| r.method == m.as_str() && !r.path.contains('?') && r.path == u.path()),
    };
    match route {
        Some(r) => {
            let resp = r.responses[r.served.min(r.responses.len() - 1)].clone();
            r.served += 1;
            let mut out = (StatusCode::from_u16(resp.status).unwrap(), resp.body).into_response();
            for (k, v) in resp.headers {
                out.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    axum::http::HeaderValue::from_str(&v).unwrap(),
                );
            }
            out
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("{{\"message\":\"Not Found: {} {full}\"}}", m),
        )
            .into_response(),
    }
}
