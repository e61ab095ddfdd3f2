package io.mvm.runtime.template;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/**
 * A template build that cannot finish: an unreadable or broken source, a corrupt layer, a refused
 * entry, a builder program that failed. The template's current revision is unchanged.
 */
public class TemplateBuildException extends MvmException {
    public TemplateBuildException(String message) {
        super(ErrorCategory.FAILED_PRECONDITION, message);
    }

    public TemplateBuildException(String message, Throwable cause) {
        super(ErrorCategory.FAILED_PRECONDITION, message, cause);
    }
}
