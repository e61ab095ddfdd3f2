package io.mvm.core.template;

import io.mvm.model.MvmException;
import java.util.regex.Pattern;

/**
 * A template's name. It becomes a directory name under {@code <data>/templates/}, so it is
 * restricted to characters that can never form a path ({@code /}, {@code ..}) or a hidden file.
 */
public record TemplateId(String value) {
    private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    public TemplateId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw MvmException.invalid("'" + value + "' is not a valid template id (1-63 of a-z 0-9 _ -, starting with a letter or digit)");
        }
    }

    public static boolean isValid(String value) {
        return value != null && VALID.matcher(value).matches();
    }

    @Override
    public String toString() {
        return value;
    }
}
