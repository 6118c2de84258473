// SPDX-License-Identifier: MIT
// One error model: negative errno at C boundaries, converted once into oobbpf::Error, which
// carries what failed and on what. Users see Error::what() as one line.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace oobbpf {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string &msg, int err = 0) : std::runtime_error(msg), errno_(err) {}
    int err() const { return errno_; }

private:
    int errno_;
};

// "what: strerror(err)"; err may be negative (libbpf convention) or positive.
inline Error sys_error(const std::string &what, int err) {
    if (err < 0)
        err = -err;
    return Error(what + ": " + std::strerror(err), err);
}

// Throws sys_error when rc < 0 (libbpf style return) and returns rc otherwise.
inline int check(int rc, const std::string &what) {
    if (rc < 0)
        throw sys_error(what, errno && rc == -1 ? errno : rc);
    return rc;
}

}  // namespace oobbpf
