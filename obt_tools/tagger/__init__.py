"""The review tagger: a Spark ML model that scores a review text as positive or negative.

Part 1 (this package, run by ``obt tagger``): read labelled reviews, cross-validate the pipeline by distinct text,
fit it on every labelled row, save the ``PipelineModel`` and a model card beside it.

The fitted model reads one column, ``review_str`` (as in the job's reviews), and adds, in this order:

- ``tagger_tokens`` (array<string>): the rules' tokens (lower-case, HTML tags replaced by a space, split on every
  run outside ``[a-z0-9]``); a NULL text is scored as an empty one;
- ``tagger_counts`` (vector): 1.0 for each vocabulary term the text holds (binary term presence);
- ``tagger_features`` (vector): ``tagger_counts`` weighted by each term's inverse document frequency;
- ``rawPrediction`` (vector): the logistic regression's margins ``[-m, m]``;
- ``probability`` (vector): ``[P(negative), P(positive)]``;
- ``prediction`` (double): 1.0 when ``P(positive) > 0.5``, else 0.0.

Every other column passes through unchanged. The names are in ``obt_tools.tagger.pipeline.OUTPUT_COLUMNS``.
"""
