package io.mvm.core.template;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where each key of a TOML document is written, as dotted paths with array indexes
 * ({@code variants[1].mem_mib} → its line number).
 *
 * <p>Why this exists: Jackson's TOML module reports line numbers only for syntax errors. It parses
 * the whole document into a tree first and then reads that tree, so every value it hands out has
 * lost its position, and a semantic problem ("vcpus must be at least 1") could not name a line.
 * This scanner recovers positions from the text the tree came from. It understands what template
 * files use — tables, arrays of tables, bare/quoted/dotted keys, comments, multi-line strings and
 * arrays — and never decides validity: the parser already accepted the document, so a key this
 * scanner cannot place only loses precision (the problem points to its table instead).
 */
final class TomlKeyLines {
    private static final String KEY_PART = "(?:[A-Za-z0-9_-]+|\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*')";
    private static final Pattern KEY_VALUE = Pattern.compile("^\\s*(" + KEY_PART + "(?:\\s*\\.\\s*" + KEY_PART + ")*)\\s*=(.*)$");
    private static final Pattern ARRAY_TABLE = Pattern.compile("^\\s*\\[\\[\\s*(.+?)\\s*]]\\s*(?:#.*)?$");
    private static final Pattern TABLE = Pattern.compile("^\\s*\\[\\s*([^\\[].*?)\\s*]\\s*(?:#.*)?$");
    private static final Pattern KEY_SPLIT = Pattern.compile("\\s*\\.\\s*(?=(?:[^\"']|\"[^\"]*\"|'[^']*')*$)");

    private final Map<String, Integer> lines = new HashMap<>();

    private TomlKeyLines() {}

    static TomlKeyLines scan(String text) {
        TomlKeyLines result = new TomlKeyLines();
        Map<String, Integer> arrayCounts = new HashMap<>();
        String table = "";
        String openMultiline = null;
        List<String> rows = text.lines().toList();
        for (int i = 0; i < rows.size(); i++) {
            int lineNumber = i + 1;
            String row = rows.get(i);
            if (openMultiline != null) {
                if (row.contains(openMultiline)) {
                    openMultiline = null;
                }
                continue;
            }
            String stripped = row.strip();
            if (stripped.isEmpty() || stripped.startsWith("#")) {
                continue;
            }
            Matcher arrayTable = ARRAY_TABLE.matcher(row);
            if (arrayTable.matches()) {
                String name = normalise(arrayTable.group(1));
                int index = arrayCounts.merge(name, 1, Integer::sum) - 1;
                table = name + "[" + index + "]";
                result.lines.putIfAbsent(table, lineNumber);
                continue;
            }
            Matcher plainTable = TABLE.matcher(row);
            if (plainTable.matches()) {
                table = resolveAgainstArrays(normalise(plainTable.group(1)), arrayCounts);
                result.lines.putIfAbsent(table, lineNumber);
                continue;
            }
            Matcher keyValue = KEY_VALUE.matcher(row);
            if (keyValue.matches()) {
                String key = normalise(keyValue.group(1));
                String path = table.isEmpty() ? key : table + "." + key;
                result.lines.putIfAbsent(path, lineNumber);
                // dotted keys also define their intermediate tables (source.oci.layout defines source.oci)
                for (int dot = path.lastIndexOf('.'); dot > table.length(); dot = path.lastIndexOf('.', dot - 1)) {
                    result.lines.putIfAbsent(path.substring(0, dot), lineNumber);
                }
                String value = keyValue.group(2).strip();
                for (String quote : List.of("\"\"\"", "'''")) {
                    if (value.startsWith(quote) && value.indexOf(quote, 3) < 0) {
                        openMultiline = quote;
                    }
                }
            }
        }
        return result;
    }

    /** [variants.limits] inside the second [[variants]] means variants[1].limits. */
    private static String resolveAgainstArrays(String name, Map<String, Integer> arrayCounts) {
        String best = "";
        for (String array : arrayCounts.keySet()) {
            if (name.startsWith(array + ".") && array.length() > best.length()) {
                best = array;
            }
        }
        return best.isEmpty() ? name : best + "[" + (arrayCounts.get(best) - 1) + "]" + name.substring(best.length());
    }

    private static String normalise(String dottedKey) {
        StringBuilder out = new StringBuilder();
        for (String part : KEY_SPLIT.split(dottedKey.strip())) {
            String p = part.strip();
            if (p.length() >= 2 && (p.startsWith("\"") && p.endsWith("\"") || p.startsWith("'") && p.endsWith("'"))) {
                p = p.substring(1, p.length() - 1);
            }
            out.append(out.isEmpty() ? "" : ".").append(p);
        }
        return out.toString();
    }

    /**
     * The line of {@code path}, or of its nearest enclosing table that is written down, or 1 for a
     * problem with the document as a whole.
     */
    int lineOf(String path) {
        String p = path;
        while (!p.isEmpty()) {
            Integer line = lines.get(p);
            if (line != null) {
                return line;
            }
            int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
            p = cut < 0 ? "" : p.substring(0, cut);
        }
        return 1;
    }
}
