package io.mvm.core.netpolicy;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One chain: its hook line for a base chain ({@code type filter hook ...; policy accept;}) and its
 * rule lines, each exactly as {@code nft -s list table} prints it. Every rule mvm writes ends in a
 * unique comment, which names the rule in drift reports.
 */
public record NftChain(String name, Optional<String> hook, List<String> rules) {
    private static final Pattern COMMENT = Pattern.compile("comment \"([^\"]*)\"$");

    public NftChain {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(hook, "hook");
        rules = List.copyOf(rules);
    }

    /** The comment of a rule line, or the whole line for a rule mvm did not write. */
    public static String label(String rule) {
        Matcher m = COMMENT.matcher(rule);
        return m.find() ? m.group(1) : rule;
    }
}
