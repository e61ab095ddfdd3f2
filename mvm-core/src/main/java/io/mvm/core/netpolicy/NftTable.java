package io.mvm.core.netpolicy;

import io.mvm.model.MvmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One nftables table. {@link #definition()} is written in the canonical form that
 * {@code nft -s list table} prints (tabs, blank line between chains), so a live table read back can
 * be compared rule by rule with the desired one: the integration tests prove that round trip.
 */
public record NftTable(NftFamily family, String name, List<NftChain> chains) {

    public NftTable {
        chains = List.copyOf(chains);
    }

    public Optional<NftChain> chain(String chainName) {
        return chains.stream().filter(c -> c.name().equals(chainName)).findFirst();
    }

    public String definition() {
        StringBuilder out = new StringBuilder();
        out.append("table ").append(family.keyword()).append(' ').append(name).append(" {\n");
        for (int i = 0; i < chains.size(); i++) {
            NftChain chain = chains.get(i);
            if (i > 0) {
                out.append('\n');
            }
            out.append("\tchain ").append(chain.name()).append(" {\n");
            chain.hook().ifPresent(h -> out.append("\t\t").append(h).append('\n'));
            for (String rule : chain.rules()) {
                out.append("\t\t").append(rule).append('\n');
            }
            out.append("\t}\n");
        }
        out.append("}\n");
        return out.toString();
    }

    /** Parses the output of {@code nft -s list table FAMILY NAME}. */
    public static NftTable parseListing(String listing) {
        NftFamily family = null;
        String name = null;
        List<NftChain> chains = new ArrayList<>();
        String chainName = null;
        String hook = null;
        List<String> rules = new ArrayList<>();
        for (String raw : listing.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty()) {
                continue;
            }
            if (name == null) {
                String[] words = line.split(" ");
                if (words.length != 4 || !words[0].equals("table") || !words[3].equals("{")) {
                    throw MvmException.internal("unexpected nft listing, first line: " + line, null);
                }
                family = familyOf(words[1]);
                name = words[2];
            } else if (chainName == null && line.startsWith("chain ") && line.endsWith("{")) {
                chainName = line.substring("chain ".length(), line.length() - 1).strip();
                hook = null;
                rules = new ArrayList<>();
            } else if (chainName != null && line.equals("}")) {
                chains.add(new NftChain(chainName, Optional.ofNullable(hook), rules));
                chainName = null;
            } else if (chainName != null && hook == null && rules.isEmpty() && line.startsWith("type ")) {
                hook = line;
            } else if (chainName != null) {
                rules.add(line);
            } else if (!line.equals("}")) {
                // Sets, maps, flowtables: mvm writes none, so report them as an extra pseudo-chain.
                chains.add(new NftChain("(other)", Optional.empty(), List.of(line)));
            }
        }
        if (name == null) {
            throw MvmException.internal("empty nft listing", null);
        }
        return new NftTable(family, name, chains);
    }

    private static NftFamily familyOf(String keyword) {
        for (NftFamily f : NftFamily.values()) {
            if (f.keyword().equals(keyword)) {
                return f;
            }
        }
        throw MvmException.internal("unexpected nft table family '" + keyword + "'", null);
    }
}
