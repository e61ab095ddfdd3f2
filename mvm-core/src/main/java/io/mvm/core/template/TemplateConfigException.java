package io.mvm.core.template;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.List;
import java.util.Map;

/** A template file that cannot be used; lists every problem found, not only the first. */
public class TemplateConfigException extends MvmException {
    private final List<ConfigProblem> problems;

    public TemplateConfigException(String source, List<ConfigProblem> problems) {
        super(ErrorCategory.INVALID_ARGUMENT, describe(source, problems),
                Map.of("problems", problems.stream().map(ConfigProblem::toString).toList()), null);
        this.problems = List.copyOf(problems);
    }

    public List<ConfigProblem> problems() {
        return problems;
    }

    private static String describe(String source, List<ConfigProblem> problems) {
        StringBuilder text = new StringBuilder(source).append(": ").append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems");
        for (ConfigProblem problem : problems) {
            text.append("; ").append(problem);
        }
        return text.toString();
    }
}
