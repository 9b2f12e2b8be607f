//! A real browser for the console's tests: headless Chromium (Debian's `chromium`) driven
//! over the W3C WebDriver protocol by `chromedriver` (Debian's `chromium-driver`), which
//! `ops/test` installs. Only what the tests need: open a page, find, type, click, read,
//! run a script, and take screenshots kept under `target/test-artifacts/`.

use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The key of an element reference in WebDriver's answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session; the driver and its browser end when it drops.
pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    artifacts: PathBuf,
}

/// A found element.
pub struct Element(String);

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session through it;
    /// its screenshots go to `target/test-artifacts/<name>/`.
    pub async fn start(name: &str) -> Self {
        let port = crate::processes::free_port();
        // A process group of its own: the browser it starts goes with it, also when a test
        // fails before it closes the session.
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; ops/test installs it)");
        let artifacts = crate::repo().join("target/test-artifacts").join(name);
        std::fs::create_dir_all(&artifacts).unwrap();
        let mut browser = Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            artifacts,
        };
        browser.wait_driver().await;
        let session = browser
            .call(
                reqwest::Method::POST,
                "/session",
                json!({ "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": "/usr/bin/chromium",
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                 "--disable-dev-shm-usage", "--window-size=1400,1600",
                                 "--lang=en"]
                    }
                } } }),
            )
            .await;
        let id = session["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    async fn wait_driver(&mut self) {
        for _ in 0..100 {
            let status = self.http.get(format!("{}/status", self.base)).send().await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not come up");
    }

    /// One WebDriver command; its `value`. A WebDriver error panics with its message.
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method != reqwest::Method::GET {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        let value = answer["value"].clone();
        if let Some(error) = value.get("error") {
            panic!("WebDriver {path}: {error}: {}", value["message"]);
        }
        value
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// The first element `css` selects, waiting up to `limit` for it.
    pub async fn find(&self, css: &str, limit: Duration) -> Element {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let found = self
                .script(
                    "return document.querySelector(arguments[0]) !== null",
                    json!([css]),
                )
                .await;
            if found == true {
                let value = self
                    .call(
                        reqwest::Method::POST,
                        "/element",
                        json!({ "using": "css selector", "value": css }),
                    )
                    .await;
                let id = value[ELEMENT].as_str();
                return Element(
                    id.unwrap_or_else(|| panic!("an element: {value}"))
                        .to_owned(),
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nothing matched {css} within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types `text` into `element`.
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Clicks `element`.
    pub async fn click(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            json!({}),
        )
        .await;
    }

    /// Runs `script` in the page with `args`; what it returns.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.script("return document.body.innerText", json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to `limit` until `check` holds of the page's visible text; that text.
    pub async fn wait_text(&self, limit: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let text = self.text().await;
            if check(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page did not show what was awaited within {limit:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Saves a screenshot of the page as `<name>.png` among the test's artifacts.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Browser {
    /// Ends the session (the browser quits), then the driver.
    pub async fn close(self) {
        let _ = self
            .http
            .delete(&self.base)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
    }
}

impl Drop for Browser {
    /// Ends the driver and every process it started (the browser's included): its group.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
