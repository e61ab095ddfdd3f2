package io.mvm.core.template;

/** One thing wrong in a template file, at the line a user would edit to fix it. */
public record ConfigProblem(int line, String message) implements Comparable<ConfigProblem> {
    @Override
    public int compareTo(ConfigProblem other) {
        return Integer.compare(line, other.line);
    }

    @Override
    public String toString() {
        return "line " + line + ": " + message;
    }
}
