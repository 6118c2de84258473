// SPDX-License-Identifier: MIT
#include "config.h"

#include "error.h"
#include "fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace oobbpf::daemon {

using nlohmann::json;

json to_json(const Config &c) {
    json j = {{"version", kConfigVersion}};
    json devs = json::object();
    for (const auto &[name, d] : c.devices) {
        json e = {{"divert", d.divert}};
        if (d.mode)
            e["mode"] = *d.mode;
        devs[name] = e;
    }
    j["devices"] = devs;
    json ports = json::object();
    for (const auto &[name, p] : c.ports)
        ports[name] = {{"id", p.id}};
    j["ports"] = ports;
    json vlans = json::array();
    for (const auto &v : c.vlans) {
        json e = {{"vid", v.vid}, {"id", v.id}};
        if (!v.dev.empty())
            e["dev"] = v.dev;
        vlans.push_back(e);
    }
    j["vlans"] = vlans;
    j["rules"] = c.rules;
    json sels = json::object();
    for (const auto &[name, s] : c.selectors) {
        sels[name] = {{"file", s.file}, {"section", s.section}};
        if (s.prog_id)
            sels[name]["prog_id"] = s.prog_id;
    }
    j["selectors"] = sels;
    return j;
}

Config config_from_json(const json &j) {
    auto bad = [](const std::string &what) { return Error("configuration: " + what); };
    if (!j.is_object())
        throw bad("not a JSON object");
    // Checked for type first: a version that is no integer ("1", 1.5) is one clear error too.
    const json version = j.contains("version") ? j["version"] : json();
    if (!version.is_number_integer() || version.get<int64_t>() != kConfigVersion)
        throw bad("unsupported version " +
                  version.dump(-1, ' ', false, json::error_handler_t::replace));
    Config c;
    static const json empty_object = json::object(), empty_array = json::array();
    auto member = [&](const char *name, bool array) -> const json & {
        if (!j.contains(name))
            return array ? empty_array : empty_object;
        const json &m = j[name];
        if (array ? !m.is_array() : !m.is_object())
            throw bad(std::string("\"") + name + "\" is not " + (array ? "an array" : "an object"));
        return m;
    };
    // Integers of a given width: a number out of range (1e300, -1) is refused, not converted.
    auto uint = [&](const json &v, const char *what, uint64_t max) -> uint64_t {
        if (!v.is_number_unsigned() || v.get<uint64_t>() > max)
            throw bad(std::string("\"") + what + "\" is not an integer in 0.." + std::to_string(max));
        return v.get<uint64_t>();
    };
    try {
        for (const auto &[name, d] : member("devices", false).items()) {
            DevConf dc;
            dc.divert = d.value("divert", false);
            if (d.contains("mode"))
                dc.mode = d["mode"].get<std::string>();
            c.devices[name] = dc;
        }
        for (const auto &[name, p] : member("ports", false).items())
            c.ports[name] = PortConf{static_cast<uint32_t>(uint(p.at("id"), "id", UINT32_MAX))};
        for (const auto &v : member("vlans", true)) {
            VlanConf vc;
            vc.vid = static_cast<uint16_t>(uint(v.at("vid"), "vid", 4095));
            vc.dev = v.value("dev", std::string());
            vc.id = v.contains("id") ? static_cast<uint32_t>(uint(v["id"], "id", UINT32_MAX)) : 0;
            c.vlans.push_back(vc);
        }
        c.rules = member("rules", true);
        for (const auto &[name, s] : member("selectors", false).items())
            c.selectors[name] =
                SelectorConf{s.at("file").get<std::string>(), s.value("section", std::string()),
                             s.contains("prog_id")
                                 ? static_cast<uint32_t>(uint(s["prog_id"], "prog_id", UINT32_MAX))
                                 : 0u};
    } catch (const json::exception &e) {
        throw bad(e.what());
    }
    return c;
}

Config load_config(const std::string &path) {
    std::ifstream in(path);
    if (!in) {
        if (errno == ENOENT)
            return Config{};
        throw sys_error("read " + path, errno);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    json j;
    try {
        j = json::parse(ss.str());
    } catch (const json::parse_error &e) {
        throw Error(path + ": not valid JSON (" + e.what() + ")");
    }
    try {
        return config_from_json(j);
    } catch (const Error &e) {
        throw Error(path + ": " + e.what());
    }
}

void save_config(const std::string &path, const Config &c) {
    write_file_atomic(path, to_json(c).dump(2) + "\n");
}

void write_file_atomic(const std::string &path, const std::string &data) {
    const fs::path p(path);
    const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
    std::error_code ec;
    // A directory made here is private; one that exists keeps its mode (the socket's directory
    // must stay reachable for the admitted group).
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec)
            throw Error("create " + dir + ": " + ec.message());
        chmod(dir.c_str(), 0700);
    }

    const std::string tmp = path + ".tmp." + std::to_string(getpid());
    UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd)
        throw sys_error("create " + tmp, errno);
    const char *q = data.data();
    size_t left = data.size();
    while (left) {
        ssize_t n = write(fd.get(), q, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            unlink(tmp.c_str());
            throw sys_error("write " + tmp, e);
        }
        q += n;
        left -= static_cast<size_t>(n);
    }
    // The data must be on disk before the rename makes it the configuration: otherwise a crash
    // can leave a renamed but empty file.
    if (fsync(fd.get()) < 0) {
        int e = errno;
        unlink(tmp.c_str());
        throw sys_error("fsync " + tmp, e);
    }
    fd.reset();
    if (rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        unlink(tmp.c_str());
        throw sys_error("rename " + tmp + " to " + path, e);
    }
    // And the rename itself must be durable.
    UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d)
        fsync(d.get());
}

}  // namespace oobbpf::daemon
