// SPDX-License-Identifier: MIT
// What this oobbpfd is built with: the selector loader (userd/selectors) and the route learners
// (userd/learn), each present when its library is part of the build. Without them the daemon
// runs and says so (`oobbpf status`, and one clear line from the commands that need them).
#include "route_learner.h"
#include "selector_loader.h"

#include "error.h"

#include <filesystem>

#if __has_include("selectors.h")
#include "selectors.h"
#define OOBBPF_HAVE_SELECTORS 1
#endif

// The learning library registers its back-ends through this header (see learner.h).
#if __has_include("daemon_learners.h")
#include "daemon_learners.h"
#define OOBBPF_HAVE_LEARN 1
#endif

namespace oobbpf::daemon {

#ifdef OOBBPF_HAVE_SELECTORS

namespace {

nlohmann::json to_json(const selectors::Installed &i) {
    nlohmann::json j = {{"dev", i.dev},          {"ifindex", i.ifindex}, {"slot", i.slot},
                        {"prog_id", i.prog_id},  {"program", i.program}, {"pin", i.pin},
                        {"map_pins", i.map_pins}};
    if (i.replaced_prog_id)
        j["replaced_prog_id"] = i.replaced_prog_id;
    if (!i.kept_maps.empty())
        j["kept_maps"] = i.kept_maps;
    return j;
}

class LibSelectorLoader : public SelectorLoader {
  public:
    explicit LibSelectorLoader(const Paths &p) : root_(p.pin_root) {}

    nlohmann::json load(const std::string &dev, const std::string &file, const std::string &section,
                        std::string *details) override {
        try {
            return to_json(selectors::load(root_, dev, file, section));
        } catch (const selectors::SelectorError &e) {
            if (details)
                *details = e.details();
            throw;
        }
    }
    void unload(const std::string &dev) override { selectors::unload(root_, dev); }
    std::optional<nlohmann::json> show(const std::string &dev) override {
        auto i = selectors::show(root_, dev);
        if (!i)
            return std::nullopt;
        return to_json(*i);
    }
    nlohmann::json list() override {
        nlohmann::json out = nlohmann::json::array();
        for (const auto &i : selectors::list(root_))
            out.push_back(to_json(i));
        return out;
    }
    std::vector<std::string> cleanup() override {
        const std::string dir = selectors::pin_dir(root_);
        std::error_code ec;
        if (!std::filesystem::exists(dir, ec))
            return {};
        std::filesystem::remove_all(dir, ec);
        if (ec)
            return {"could not remove " + dir + ": " + ec.message()};
        return {"removed " + dir};
    }

  private:
    std::string root_;
};

}  // namespace

std::unique_ptr<SelectorLoader> make_selector_loader(const Paths &p) {
    return std::make_unique<LibSelectorLoader>(p);
}

#else

std::unique_ptr<SelectorLoader> make_selector_loader(const Paths &) {
    return nullptr;
}

#endif

void register_builtin_learners(LearnerRegistry &r) {
#ifdef OOBBPF_HAVE_LEARN
    oobbpf::learn::register_learners(r);
#else
    (void)r;
#endif
}

}  // namespace oobbpf::daemon
