// Runs tests/mail/smtp_server.py (a real aiosmtpd server, or a small fault server) as a child
// process on a port the OS picks, and reads back what it received.
#pragma once

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace vc::mail::testing {

class SmtpTestServer {
 public:
  // mode: mailbox, auth, drop, greet421 (see smtp_server.py). Fails the test (ADD_FAILURE)
  // and returns with port() == 0 when the server cannot start, e.g. aiosmtpd is missing.
  explicit SmtpTestServer(const std::string& mode, const std::string& password = "");
  ~SmtpTestServer();
  SmtpTestServer(const SmtpTestServer&) = delete;
  SmtpTestServer& operator=(const SmtpTestServer&) = delete;

  int port() const { return port_; }
  std::string url() const;
  const std::string& dir() const { return dir_; }
  // Every message received so far, in arrival order, as written by smtp_server.py.
  std::vector<nlohmann::json> Messages() const;
  // auth.log lines ("PLAIN mailer ok").
  std::string AuthLog() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

// A port on 127.0.0.1 that nothing listens on (bound, read and released).
int UnusedPort();

}  // namespace vc::mail::testing
