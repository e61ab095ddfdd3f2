package io.mvm.runtime.hostnet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.core.netpolicy.NftChain;
import io.mvm.core.netpolicy.NftFamily;
import io.mvm.core.netpolicy.NftTable;
import io.mvm.model.ErrorCategory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * nftables' JSON ({@code nft -j -s list ...}) turned into {@link NftTable}s whose chains carry a
 * canonical form: the hook as {@code type=… hook=… prio=… policy=…}, each rule as its expression
 * list in compact JSON followed by {@code comment "…"} (so drift reports still name a rule by its
 * comment, {@link NftChain#label}). Handles are dropped; {@code -s} leaves counters empty. The live
 * tables and the desired ones (applied in a throwaway network namespace and listed the same way)
 * are read by this one parser, so they compare equal exactly when the kernel holds the same rules,
 * whatever text nft would print for them.
 */
final class NftJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private NftJson() {}

    /** Every table named {@code tableName} in the listing, by family. */
    static Map<NftFamily, NftTable> parse(String listing, String tableName) {
        JsonNode root;
        try {
            root = JSON.readTree(listing);
        } catch (IOException e) {
            throw new HostNetworkException(ErrorCategory.INTERNAL, "cannot parse nft's JSON listing: " + e.getMessage(), e);
        }
        Map<NftFamily, Map<String, Optional<String>>> hooks = new EnumMap<>(NftFamily.class);
        Map<NftFamily, Map<String, List<String>>> rules = new EnumMap<>(NftFamily.class);
        for (JsonNode item : root.path("nftables")) {
            if (item.has("table") && item.get("table").path("name").asText().equals(tableName)) {
                NftFamily family = family(item.get("table").path("family").asText());
                hooks.computeIfAbsent(family, f -> new LinkedHashMap<>());
                rules.computeIfAbsent(family, f -> new LinkedHashMap<>());
            } else if (item.has("chain") && item.get("chain").path("table").asText().equals(tableName)) {
                JsonNode c = item.get("chain");
                NftFamily family = family(c.path("family").asText());
                Optional<String> hook = c.has("hook") ? Optional.of("type=" + c.path("type").asText() + " hook="
                        + c.path("hook").asText() + " prio=" + c.path("prio").asText() + " policy=" + c.path("policy").asText(""))
                        : Optional.empty();
                hooks.computeIfAbsent(family, f -> new LinkedHashMap<>()).put(c.path("name").asText(), hook);
                rules.computeIfAbsent(family, f -> new LinkedHashMap<>()).putIfAbsent(c.path("name").asText(), new ArrayList<>());
            } else if (item.has("rule") && item.get("rule").path("table").asText().equals(tableName)) {
                JsonNode r = item.get("rule");
                NftFamily family = family(r.path("family").asText());
                String rule = r.path("expr").toString() + (r.hasNonNull("comment")
                        ? " comment \"" + r.get("comment").asText() + "\"" : "");
                rules.computeIfAbsent(family, f -> new LinkedHashMap<>())
                        .computeIfAbsent(r.path("chain").asText(), n -> new ArrayList<>()).add(rule);
            } else if (!item.has("metainfo") && !item.has("table") && !item.has("chain") && !item.has("rule")) {
                // Sets, maps, flowtables: mvm writes none; a foreign one in our table is reported as a pseudo-chain.
                JsonNode body = item.elements().hasNext() ? item.elements().next() : item;
                if (body.path("table").asText().equals(tableName)) {
                    NftFamily family = family(body.path("family").asText());
                    rules.computeIfAbsent(family, f -> new LinkedHashMap<>())
                            .computeIfAbsent("(other)", n -> new ArrayList<>()).add(item.toString());
                    hooks.computeIfAbsent(family, f -> new LinkedHashMap<>()).putIfAbsent("(other)", Optional.empty());
                }
            }
        }
        Map<NftFamily, NftTable> out = new EnumMap<>(NftFamily.class);
        hooks.forEach((family, chainHooks) -> {
            List<NftChain> chains = new ArrayList<>();
            Map<String, List<String>> byChain = rules.getOrDefault(family, Map.of());
            chainHooks.forEach((name, hook) -> chains.add(new NftChain(name, hook, byChain.getOrDefault(name, List.of()))));
            out.put(family, new NftTable(family, tableName, chains));
        });
        return out;
    }

    private static NftFamily family(String keyword) {
        for (NftFamily f : NftFamily.values()) {
            if (f.keyword().equals(keyword)) {
                return f;
            }
        }
        throw new HostNetworkException(ErrorCategory.INTERNAL, "unexpected nft table family '" + keyword + "'");
    }
}
