// The accept guard keeps a listener working when descriptors run out, and keeps a
// reserve of descriptors free. The test lowers this process's own soft limit to make
// accept4 fail with EMFILE for real.
#include "common/limits/descriptors.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"

namespace hie {
namespace {

class AcceptGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0);
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(::listen(listener_, 16), 0);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    address_ = address;
  }

  void TearDown() override {
    ::setrlimit(RLIMIT_NOFILE, &saved_);
    for (int fd : clients_) ::close(fd);
    ::close(listener_);
  }

  void Connect(int n) {
    for (int i = 0; i < n; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address_), sizeof(address_)), 0);
      clients_.push_back(fd);
    }
  }

  // Sets the soft limit so that exactly `free` descriptors are left below it.
  void LeaveFree(int free) {
    int next = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free number
    ASSERT_GE(next, 0);
    ::close(next);
    rlimit limit = saved_;
    limit.rlim_cur = static_cast<rlim_t>(next + free);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }

  rlimit saved_{};
  int listener_ = -1;
  sockaddr_in address_{};
  std::vector<int> clients_;
};

TEST_F(AcceptGuardTest, ExhaustedDescriptorsDropOneWaitingConnectionAndAcceptingResumes) {
  AcceptGuard guard(/*reserved=*/1);
  Connect(3);
  LeaveFree(0);
  int fd = -1;
  std::string peer;
  EXPECT_EQ(guard.Accept(listener_, &fd, &peer), AcceptGuard::Result::kExhausted);
  EXPECT_EQ(guard.exhausted(), 1u);
  ::setrlimit(RLIMIT_NOFILE, &saved_);
  // The first connection was taken off the queue and closed; the other two are served.
  EXPECT_EQ(guard.Accept(listener_, &fd, &peer), AcceptGuard::Result::kAccepted);
  EXPECT_NE(peer.find("127.0.0.1:"), std::string::npos);
  ::close(fd);
  EXPECT_EQ(guard.Accept(listener_, &fd, &peer), AcceptGuard::Result::kAccepted);
  ::close(fd);
  EXPECT_EQ(guard.Accept(listener_, &fd, &peer), AcceptGuard::Result::kNone);
}

TEST_F(AcceptGuardTest, AConnectionThatWouldTakeTheReserveIsClosed) {
  AcceptGuard guard(/*reserved=*/8);
  Connect(2);
  LeaveFree(4);  // fewer free than the reserve
  int fd = -1;
  std::string peer;
  EXPECT_EQ(guard.Accept(listener_, &fd, &peer), AcceptGuard::Result::kShed);
  EXPECT_EQ(guard.shed(), 1u);
  ::setrlimit(RLIMIT_NOFILE, &saved_);
  EXPECT_EQ(guard.Accept(listener_, &fd, &peer), AcceptGuard::Result::kAccepted);
  ::close(fd);
}

TEST(DescriptorLimitTest, RaiseSetsTheSoftLimitToTheHardLimit) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  auto raised = RaiseDescriptorLimit();
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_EQ(*raised, static_cast<uint64_t>(limit.rlim_max));
  EXPECT_EQ(DescriptorLimit(), static_cast<uint64_t>(limit.rlim_max));
}

}  // namespace
}  // namespace hie
