"""The ML logic on the bundled penguins: sex classifier, shared encoder, body mass split and ridge search, plots."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, roc_auc_score

from steps.ml import body_mass, plots, sex
from steps.ml.data import DataError, load_penguins
from steps.ml.features import category_encoder

ALPHAS = [0.05, 0.1, 0.5, 1, 2, 5]


@pytest.fixture(scope="module")
def frame():
    return load_penguins().frame


@pytest.fixture(scope="module")
def data(frame):
    return sex.split(frame, test_size=0.2, seed=42)


@pytest.fixture(scope="module")
def classifier(data):
    return sex.fit_classifier(data.X_train, data.y_train, C=1.0, max_iter=1000, seed=42)


@pytest.fixture(scope="module")
def mass_split(frame):
    return body_mass.split(frame, test_size=0.2, seed=42)


@pytest.fixture(scope="module")
def fitted(mass_split):
    train, _ = mass_split
    return body_mass.search_alpha(train, ALPHAS)


def test_split_is_stratified_on_sex(frame, data):
    assert len(data.X_test) == 67 and len(data.X_train) == 266
    overall = frame["sex"].value_counts(normalize=True)
    for side in (data.y_train, data.y_test):
        assert (side.value_counts(normalize=True) - overall).abs().max() < 0.01
    assert list(data.X_train.columns) == list(sex.FEATURES)


def test_split_is_reproducible_from_the_seed(frame, data):
    again = sex.split(frame, test_size=0.2, seed=42)
    other = sex.split(frame, test_size=0.2, seed=7)
    assert list(again.X_test.index) == list(data.X_test.index)
    assert list(again.X_train.index) == list(data.X_train.index)
    assert list(other.X_test.index) != list(data.X_test.index)


def test_split_of_three_rows_is_a_data_error(frame):
    with pytest.raises(DataError, match=r"^data: 3 complete rows"):
        sex.split(frame.head(3), test_size=0.2, seed=42)


def test_heldout_rows_are_the_test_rows_with_their_sex(frame, data):
    rows = sex.heldout_rows(data)
    assert list(rows.columns) == [*sex.FEATURES, "sex"]
    assert len(rows) == 67 and list(rows.index) == list(data.X_test.index)
    assert rows.equals(frame.loc[data.X_test.index, [*sex.FEATURES, "sex"]])


def test_classifier_metrics_are_rates_and_auc_is_high(classifier, data):
    metrics = sex.evaluate(classifier, data)
    assert set(metrics) == {"train_acc", "eval_acc", "auc_score"}
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert metrics["auc_score"] > 0.9
    assert metrics["eval_acc"] > 0.8


def test_auc_comes_from_probabilities_not_hard_labels(classifier, data):
    auc = sex.evaluate(classifier, data)["auc_score"]
    hard_auc = roc_auc_score(data.y_test == "male", classifier.predict(data.X_test) == "male")
    prob_auc = roc_auc_score(data.y_test == "male", classifier.predict_proba(data.X_test)[:, 1])
    assert list(classifier.classes_) == ["female", "male"]
    assert auc != pytest.approx(hard_auc)
    assert auc == pytest.approx(prob_auc)


def test_same_inputs_give_identical_metrics(frame, classifier, data):
    again = sex.split(frame, test_size=0.2, seed=42)
    refit = sex.fit_classifier(again.X_train, again.y_train, C=1.0, max_iter=1000, seed=42)
    assert sex.evaluate(refit, again) == sex.evaluate(classifier, data)


def test_classifier_predicts_raw_rows(classifier, frame):
    rows = frame.loc[:4, list(sex.FEATURES)]
    assert rows["island"].dtype == object and rows["species"].dtype == object
    predictions = classifier.predict(rows)
    assert set(predictions) <= {"female", "male"}
    assert len(predictions) == 5


def test_category_encoder_uses_the_documented_codes(frame):
    columns = ["sex", "species", "island"]
    encoded = category_encoder(columns, ["body_mass_g"]).fit_transform(frame)
    for position, column in enumerate(columns):
        np.testing.assert_array_equal(encoded[:, position], frame[f"{column}_encoded"].to_numpy(dtype=float))
    np.testing.assert_array_equal(encoded[:, 3], frame["body_mass_g"].to_numpy())


def test_rmse_by_alpha_has_one_row_per_alpha_and_best_is_smallest(fitted):
    search = fitted.named_steps["search"]
    table = body_mass.rmse_by_alpha(search)
    assert len(table) == 6
    assert list(table["alpha"]) == ALPHAS
    best_alpha = search.best_params_["alpha"]
    assert best_alpha == table.loc[table["cv_rmse"].idxmin(), "alpha"]
    np.testing.assert_allclose(table["cv_rmse"], np.sqrt(-search.cv_results_["mean_test_score"]))
    assert (table["cv_rmse_std"] >= 0).all()


def test_body_mass_split_holds_out_a_seeded_fifth_stratified_on_species(frame, mass_split):
    train, heldout = mass_split
    assert (len(train), len(heldout)) == (266, 67)
    assert list(train.columns) == list(heldout.columns) == [*body_mass.FEATURES, "body_mass_g"]
    assert not set(train.index) & set(heldout.index)
    overall = frame["species"].value_counts(normalize=True)
    for side in (train, heldout):
        assert (side["species"].value_counts(normalize=True) - overall).abs().max() < 0.01
    again, other = body_mass.split(frame, 0.2, 42), body_mass.split(frame, 0.2, 7)
    assert list(again[1].index) == list(heldout.index) and list(again[0].index) == list(train.index)
    assert list(other[1].index) != list(heldout.index)


def test_body_mass_split_too_small_for_the_split_or_the_folds_is_a_data_error(frame):
    # Three Adelie penguins split (one species), but leave 2 training rows for 5 folds.
    with pytest.raises(DataError, match=r"^data: 3 complete rows leave 2 training rows, fewer than the 5 CV folds"):
        body_mass.split(frame.head(3), test_size=0.2, seed=42)
    three_species = frame.groupby("species").head(2)  # 2 held-out rows cannot hold all 3 species
    with pytest.raises(DataError, match=r"^data: 6 complete rows cannot be split"):
        body_mass.split(three_species, test_size=0.2, seed=42)


def test_the_search_sees_the_training_rows_only(fitted, mass_split):
    train, _ = mass_split
    search = fitted.named_steps["search"]
    assert search.n_splits_ == 5
    # The best alpha refit on the 266 training rows, not on all 333.
    encoded = fitted.named_steps["encode"].transform(train)
    refit = Ridge(alpha=search.best_params_["alpha"]).fit(encoded, train["body_mass_g"])
    np.testing.assert_array_equal(search.best_estimator_.coef_, refit.coef_)


def test_best_model_predicts_grams_from_raw_heldout_rows(fitted, mass_split):
    _, heldout = mass_split
    model = body_mass.best_model(fitted)
    predicted = model.predict(heldout.loc[:, list(body_mass.FEATURES)])
    rmse = float(np.sqrt(mean_squared_error(heldout["body_mass_g"], predicted)))
    assert rmse < 500
    assert 2500 < predicted.mean() < 6500  # grams, not kilograms
    assert model.named_steps["ridge"].alpha == fitted.named_steps["search"].best_params_["alpha"]


def test_plots_return_figures(classifier, data, fitted):
    search = fitted.named_steps["search"]
    figures = [
        plots.confusion_figure(sex.confusion(classifier, data)),
        plots.rmse_by_alpha_figure(body_mass.rmse_by_alpha(search), search.best_params_["alpha"]),
    ]
    try:
        for figure in figures:
            assert isinstance(figure, Figure)
            assert len(figure.axes) >= 1
        assert figures[0].axes[0].get_title() == "Confusion matrix, test set"
        assert "best alpha" in figures[1].axes[0].get_legend().get_texts()[0].get_text()
    finally:
        for figure in figures:
            plt.close(figure)
