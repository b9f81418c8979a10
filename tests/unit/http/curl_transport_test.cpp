// The libcurl transport against a real HTTP(S) server on 127.0.0.1 (cpp-httplib).
#include "http/curl_transport.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

namespace vc::http {
namespace {

class LocalServer {
 public:
  explicit LocalServer(
      std::unique_ptr<httplib::Server> server = std::make_unique<httplib::Server>())
      : server_(std::move(server)) {}
  httplib::Server& operator*() { return *server_; }
  httplib::Server* operator->() { return server_.get(); }
  int Start() {
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port_;
  }
  ~LocalServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

Request Make(Method m, std::string url) {
  Request r;
  r.method = m;
  r.url = std::move(url);
  r.service = "test";
  return r;
}

TEST(CurlTransport, SendsHeadersAndBodyAndReadsTheAnswer) {
  LocalServer s;
  s->Patch("/alerts/1", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("x-ms-request-id", "rid-1");
    res.set_content(req.get_header_value("X-Test") + "|" + req.body, "application/json");
    res.status = 200;
  });
  s.Start();
  CurlTransport t({});
  Request r = Make(Method::kPatch, s.Url() + "/alerts/1");
  r.headers.Set("X-Test", "yes");
  r.headers.Set("Content-Type", "application/json");
  r.body = R"({"comment":"hi"})";
  auto resp = t.Send(r);
  ASSERT_TRUE(resp) << resp.error().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, R"(yes|{"comment":"hi"})");
  EXPECT_EQ(resp->headers.Get("X-MS-Request-Id"), "rid-1");
}

TEST(CurlTransport, MultipartFormWithFilePart) {
  LocalServer s;
  std::string seen;
  s->Post("/submit", [&](const httplib::Request& req, httplib::Response& res) {
    ASSERT_TRUE(req.has_file("sample_file"));
    auto f = req.get_file_value("sample_file");
    seen = f.filename + "|" + f.content + "|" + req.get_file_value("tags").content;
    res.status = 200;
  });
  s.Start();
  CurlTransport t({});
  Request r = Make(Method::kPost, s.Url() + "/submit");
  r.form.push_back(
      {"sample_file", std::string("MZ\0\x01", 4), "evil.exe", "application/octet-stream"});
  r.form.push_back({"tags", "EDR_alert", "", ""});
  auto resp = t.Send(r);
  ASSERT_TRUE(resp) << resp.error().ToString();
  EXPECT_EQ(seen, std::string("evil.exe|MZ\0\x01|EDR_alert", 23));
}

TEST(CurlTransport, ReusesConnections) {
  LocalServer s;
  s->set_keep_alive_max_count(1000);
  std::set<std::string> peers;
  std::mutex mu;
  s->Get("/x", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    peers.insert(req.remote_addr + ":" + std::to_string(req.remote_port));
    res.set_content("ok", "text/plain");
  });
  s.Start();
  CurlTransport t({});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(t.Send(Make(Method::kGet, s.Url() + "/x")));
  EXPECT_EQ(peers.size(), 1u);
}

TEST(CurlTransport, ConnectFailureIsMarkedNeverSent) {
  // Bind a port, then close it, so nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  CurlTransport t({});
  auto r = t.Send(
      Make(Method::kPost, "http://127.0.0.1:" + std::to_string(port) + "/x?code=DO-NOT-LOG-k"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().service_code, kTransportConnect);
  EXPECT_EQ(r.error().message.find("DO-NOT-LOG"), std::string::npos) << r.error().message;
}

TEST(CurlTransport, TimeoutAndOversizedAnswers) {
  LocalServer s;
  s->Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("late", "text/plain");
  });
  s->Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(5000, 'a'), "text/plain");
  });
  s.Start();
  TransportOptions o;
  o.request_timeout = Millis(150);
  o.max_response_bytes = 1000;
  CurlTransport t(o);
  auto slow = t.Send(Make(Method::kGet, s.Url() + "/slow"));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, ErrorCode::kTimeout);
  auto big = t.Send(Make(Method::kGet, s.Url() + "/big"));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().service_code, kTransportTooLarge);
}

TEST(CurlTransport, DroppedConnectionIsAnIoError) {
  LocalServer s;
  s->Get("/drop", [](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(1000, "application/json", [](size_t, size_t, httplib::DataSink& sink) {
      sink.write("{\"par", 5);
      return false;
    });
  });
  s.Start();
  CurlTransport t({});
  auto r = t.Send(Make(Method::kGet, s.Url() + "/drop"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().service_code, kTransportIo);
}

// A throwaway CA and server certificate for 127.0.0.1, made with the openssl command.
class TlsFiles {
 public:
  TlsFiles() {
    dir_ = std::filesystem::temp_directory_path() /
           ("vc-tls-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string script =
        "cd " + d +
        " && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=vc-test-ca 2>/dev/null && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=127.0.0.1 2>/dev/null && "
        "printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf 2>/dev/null";
    ok_ = std::system(script.c_str()) == 0;
  }
  ~TlsFiles() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string Path(const char* name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
};

TEST(CurlTransport, TlsIsVerifiedAndACustomCaIsHonoured) {
  TlsFiles tls;
  ASSERT_TRUE(tls.ok()) << "openssl could not make test certificates";
  LocalServer s(std::make_unique<httplib::SSLServer>(tls.Path("server.pem").c_str(),
                                                     tls.Path("server.key").c_str()));
  s->Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("secure", "text/plain");
  });
  s.Start();

  CurlTransport default_trust({});
  auto rejected = default_trust.Send(Make(Method::kGet, s.Url("https") + "/x"));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().service_code, kTransportTls);
  EXPECT_NE(rejected.error().message.find("http.ca_file"), std::string::npos);

  TransportOptions with_ca;
  with_ca.ca_file = tls.Path("ca.pem");
  CurlTransport trusted(with_ca);
  auto ok = trusted.Send(Make(Method::kGet, s.Url("https") + "/x"));
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->body, "secure");

  TransportOptions insecure;
  insecure.verify_tls = false;
  CurlTransport skip(insecure);
  EXPECT_TRUE(skip.Send(Make(Method::kGet, s.Url("https") + "/x")));
}

TEST(UrlEncoding, EncodesAndDecodes) {
  EXPECT_EQ(UrlEncode("a b/c?d=e&f'"), "a%20b%2Fc%3Fd%3De%26f%27");
  EXPECT_EQ(UrlDecode("a%20b%2F"), "a b/");
  EXPECT_EQ(EncodeQuery({{"$filter", "id eq 'x'"}, {"$top", "5"}}),
            "%24filter=id%20eq%20%27x%27&%24top=5");
}

}  // namespace
}  // namespace vc::http
