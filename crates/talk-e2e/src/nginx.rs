//! A real load balancer in front of the nodes: Debian's nginx running `deploy/nginx.conf`
//! (the file the deployment docs quote), its addresses filled in, as a child process with its
//! pid file, logs and temp folders in a temp folder of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The config the tests run, as operators get it.
pub fn config_template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx.conf")
}

/// nginx on a loopback port, proxying to an upstream of two nodes. Dropped: its process group
/// is killed (the master and its workers: killing the master alone leaves workers behind).
pub struct Nginx {
    pub url: String,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// The address nginx will listen on, chosen before the nodes start, since each node's
    /// `TALK_PUBLIC_URL` must name it.
    pub fn reserve() -> SocketAddr {
        crate::node::free_addr()
    }

    /// Starts nginx on `listen` with `primary` taking the traffic and `backup` taking over
    /// when the primary fails (the template's `upstream`); waits until it answers.
    pub async fn start(listen: SocketAddr, primary: SocketAddr, backup: SocketAddr) -> Nginx {
        let binary = std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
        assert!(
            std::path::Path::new(&binary).is_file(),
            "no nginx at {binary}: run scripts/install-tools.sh --browser"
        );
        let dir = tempfile::tempdir().expect("nginx's folder");
        // As root nginx's workers run as `nobody`: they must reach the temp folders, which
        // the master creates (and hands to them) under this prefix.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod nginx's folder");
        std::fs::create_dir_all(dir.path().join("logs")).expect("logs folder");
        std::fs::create_dir_all(dir.path().join("temp")).expect("temp folder");
        let template = std::fs::read_to_string(config_template()).expect("deploy/nginx.conf");
        let config = template
            .replace("{{LISTEN}}", &listen.to_string())
            .replace("{{PRIMARY}}", &primary.to_string())
            .replace("{{BACKUP}}", &backup.to_string());
        assert!(!config.contains("{{"), "a placeholder left in {config}");
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).expect("write nginx.conf");
        let stderr = std::fs::File::create(dir.path().join("logs/stderr.log")).expect("log");
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            // The compiled-in error log (stderr here) until the config's is open.
            .args(["-e", "logs/error.log", "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("start {binary}: {error}"));
        let nginx = Nginx {
            url: format!("http://{listen}"),
            addr: listen,
            dir,
            child,
        };
        let health = format!("{}/healthz", nginx.url);
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let answered = http.get(&health).send().await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nginx not answering on {}: {}",
                nginx.url,
                nginx.error_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        nginx
    }

    /// The access log so far (format `talk`: each request with the node(s) that answered).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/access.log")).unwrap_or_default()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) with a negative pid signals the group this Nginx created.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
        }
    }
}
