// SPDX-License-Identifier: MIT
// Latency samples: percentiles and a text histogram (1-2-5 buckets), as oob-ping and the
// benchmark print them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace oobbpf::oob {

struct LatencySummary {
    size_t n = 0;
    uint64_t min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
    double mean = 0;
};

class LatencyRecorder {
  public:
    void reserve(size_t n) { s_.reserve(n); }
    void add(uint64_t ns) { s_.push_back(ns); }
    size_t size() const { return s_.size(); }
    void clear() { s_.clear(); }
    const std::vector<uint64_t> &samples() const { return s_; }

    // Nearest-rank percentiles over a sorted copy.
    LatencySummary summary() const {
        LatencySummary r;
        if (s_.empty())
            return r;
        std::vector<uint64_t> v = s_;
        std::sort(v.begin(), v.end());
        auto at = [&](double q) {
            size_t i = static_cast<size_t>(q * static_cast<double>(v.size()));
            return v[std::min(i, v.size() - 1)];
        };
        r.n = v.size();
        r.min = v.front();
        r.max = v.back();
        r.p50 = at(0.50);
        r.p90 = at(0.90);
        r.p99 = at(0.99);
        r.p999 = at(0.999);
        double sum = 0;
        for (uint64_t x : v)
            sum += static_cast<double>(x);
        r.mean = sum / static_cast<double>(v.size());
        return r;
    }

    // One line per non-empty bucket: "[  10us,  20us)  1234  52.1%  #####".
    std::string histogram(int width = 40) const {
        if (s_.empty())
            return "";
        std::vector<uint64_t> edges;  // ns: 100ns, 200ns, 500ns, 1us, ...
        for (uint64_t decade = 100; decade <= 10000000000ULL; decade *= 10)
            for (uint64_t m : {1, 2, 5})
                edges.push_back(decade * m);
        std::vector<size_t> count(edges.size() + 1, 0);
        for (uint64_t x : s_)
            count[static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), x) -
                                      edges.begin())]++;
        size_t peak = *std::max_element(count.begin(), count.end());
        std::string out;
        char line[160];
        for (size_t i = 0; i < count.size(); i++) {
            if (!count[i])
                continue;
            std::string lo = i ? fmt(edges[i - 1]) : "0",
                        hi = i < edges.size() ? fmt(edges[i]) : "inf";
            int bar = static_cast<int>((count[i] * static_cast<size_t>(width) + peak - 1) / peak);
            std::snprintf(line, sizeof(line), "  [%7s, %7s) %9zu %6.2f%%  %s\n", lo.c_str(),
                          hi.c_str(), count[i],
                          100.0 * static_cast<double>(count[i]) / static_cast<double>(s_.size()),
                          std::string(static_cast<size_t>(bar), '#').c_str());
            out += line;
        }
        return out;
    }

    static std::string fmt(uint64_t ns) {
        char b[32];
        if (ns >= 1000000000ULL)
            std::snprintf(b, sizeof(b), "%gs", static_cast<double>(ns) / 1e9);
        else if (ns >= 1000000)
            std::snprintf(b, sizeof(b), "%gms", static_cast<double>(ns) / 1e6);
        else if (ns >= 1000)
            std::snprintf(b, sizeof(b), "%gus", static_cast<double>(ns) / 1e3);
        else
            std::snprintf(b, sizeof(b), "%luns", static_cast<unsigned long>(ns));
        return b;
    }

  private:
    std::vector<uint64_t> s_;
};

}  // namespace oobbpf::oob
