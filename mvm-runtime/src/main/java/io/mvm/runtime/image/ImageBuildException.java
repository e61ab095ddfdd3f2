package io.mvm.runtime.image;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/** Building or loading a guest image failed (missing tool, broken kernel package, bad module graph). */
public class ImageBuildException extends MvmException {
    public ImageBuildException(String message) {
        super(ErrorCategory.FAILED_PRECONDITION, message);
    }

    public ImageBuildException(String message, Throwable cause) {
        super(ErrorCategory.FAILED_PRECONDITION, message, cause);
    }
}
