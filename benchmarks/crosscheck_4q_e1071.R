# The 4Q SVM in R, as the authors ran it: e1071's svm (scale = TRUE, RBF, C = 8, gamma = 2^-9) on
# their top-100 features, caret's createFolds with set.seed(1), 20 x 10 folds. Prints mean and sd
# over the 200 folds of macro F1 (mean of per-class F1s), weighted_pr_f1 (harmonic mean of
# support-weighted precision and recall: the authors' "F1-Score: macro weighted") and accuracy,
# and writes the folds so moodflow can run on exactly the same ones:
#
#   Rscript benchmarks/crosscheck_4q_e1071.R $MOODFLOW_SHARED_DATA caret_folds.csv
#   python benchmarks/reproduce_4q.py $MOODFLOW_SHARED_DATA --folds-csv caret_folds.csv
#
# Needs R with e1071 and caret (Debian: apt-get install r-base-core r-cran-e1071 r-cran-caret).
suppressMessages({library(caret); library(e1071)})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: crosscheck_4q_e1071.R SHARED_DATA OUT_FOLDS_CSV")
root <- args[1]; out <- args[2]
feats <- read.csv(file.path(root, "4Q/Features/top100_features.csv"), check.names = FALSE)
ann <- read.csv(file.path(root, "4Q/MER_audio_taffc_dataset/panda_dataset_taffc_annotations.csv"))
feats <- feats[match(ann$Song, feats$SongID), ]
stopifnot(all(feats$SongID == ann$Song))
X <- feats[, setdiff(names(feats), c("SongID", "Quadrant"))]
stopifnot(ncol(X) == 100)
y <- as.character(ann$Quadrant)
labels <- sort(unique(y))

fold_scores <- function(truth, pred) {
  precision <- recall <- f1 <- weight <- numeric(0)
  for (c in labels) {
    hits <- sum(truth == c & pred == c); said <- sum(pred == c); truly <- sum(truth == c)
    p <- if (said > 0) hits / said else 0
    r <- hits / truly
    precision <- c(precision, p); recall <- c(recall, r); weight <- c(weight, truly / length(truth))
    f1 <- c(f1, if (p + r > 0) 2 * p * r / (p + r) else 0)
  }
  pw <- sum(weight * precision); rw <- sum(weight * recall)
  c(macro_f1 = mean(f1), weighted_pr_f1 = 2 * pw * rw / (pw + rw), accuracy = mean(truth == pred))
}

set.seed(1)
scores <- NULL; held_out <- NULL
for (r in 1:20) {
  folds <- createFolds(y, 10)
  for (k in 1:10) {
    test <- folds[[k]]; train <- unlist(folds[-k], use.names = FALSE)
    model <- svm(X[train, ], factor(y[train]), kernel = "radial", type = "C-classification", scale = TRUE,
                 gamma = 0.001953125, cost = 8)
    scores <- rbind(scores, fold_scores(y[test], as.character(predict(model, X[test, ]))))
    held_out <- rbind(held_out, data.frame(repeat_ = r, fold = k, song = ann$Song[test]))
  }
}
cat("mean over", nrow(scores), "folds (%):\n"); print(round(100 * colMeans(scores), 2))
cat("sd (%):\n"); print(round(100 * apply(scores, 2, sd), 2))
write.csv(held_out, out, row.names = FALSE)
