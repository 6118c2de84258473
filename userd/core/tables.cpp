// SPDX-License-Identifier: MIT
#include "tables.h"

namespace oobbpf {

void install_rules(Tables &t, const RuleSetImage &img) {
    oob_config cfg = t.config();
    const uint32_t old_gen = cfg.rule_gen & 1;
    const uint32_t new_gen = old_gen ^ 1;
    const uint32_t lo = new_gen * OOB_MAX_MASKS, hi = lo + OOB_MAX_MASKS;

    // Leftovers of the inactive generation (a crash mid-install) go first.
    for (const auto &k : t.rule_keys())
        if (k.tuple >= lo && k.tuple < hi)
            t.del_rule(k);
    for (auto [k, v] : img.entries) {
        k.tuple = static_cast<uint8_t>(lo + k.tuple % OOB_MAX_MASKS);
        t.put_rule(k, v);
    }
    t.set_masks(new_gen, img.masks);

    // The flip: one word, read once per frame.
    cfg.rule_gen = new_gen;
    t.set_config(cfg);
    t.quiesce();

    const uint32_t olo = old_gen * OOB_MAX_MASKS, ohi = olo + OOB_MAX_MASKS;
    oob_rule_masks empty{};
    t.set_masks(old_gen, empty);
    for (const auto &k : t.rule_keys())
        if (k.tuple >= olo && k.tuple < ohi)
            t.del_rule(k);
}

}  // namespace oobbpf
