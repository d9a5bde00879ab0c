import csv

import numpy as np
import pytest
from PIL import Image

from fmnist import CLASS_NAMES
from fmnist.core import runtime
from fmnist.core.review import ReviewRule
from fmnist.tag import local
from fmnist.tag import output as tag_output
from fmnist.tag.__main__ import main


def run(serving_artifacts, source, output, *options):
    model, thresholds = serving_artifacts / "model.tflite", serving_artifacts / "review_thresholds.json"
    arguments = [str(source), "-o", str(output), "--model", str(model), "--thresholds", str(thresholds)]
    return main([*arguments, "--quiet", *options])


def read(output):
    with open(output, newline="") as file:
        return list(csv.DictReader(file))


def test_a_folder_gets_one_row_per_readable_image_and_a_summary(serving_artifacts, shop, tmp_path, capsys):
    output = tmp_path / "tags.csv"
    assert run(serving_artifacts, shop, output) == 0
    rows = read(output)
    assert sorted(row["id"] for row in rows) == sorted([f"item-{n}" for n in range(5)] + ["jackets-big"])
    classifier = runtime.TFLiteClassifier(serving_artifacts / "model.tflite")
    for row in rows:
        assert list(row) == list(tag_output.COLUMNS)
        assert row["label"] in CLASS_NAMES and row["runner_up"] in CLASS_NAMES and row["label"] != row["runner_up"]
        assert 0.1 <= float(row["confidence"]) <= 1 and row["needs_review"] in ("True", "False")
    first = Image.open(shop / "item-0.png")
    _, probabilities = classifier(np.asarray(first, dtype=np.float32)[None, ..., None] / 255)
    item = next(row for row in rows if row["id"] == "item-0")
    assert item["label"] == CLASS_NAMES[probabilities.argmax()]
    assert float(item["confidence"]) == pytest.approx(probabilities.max(), abs=1e-5)
    out, err = capsys.readouterr()
    assert "broken.png: skipped" in err
    review = sum(row["needs_review"] == "True" for row in rows)
    table = {line.split()[0]: line.split()[-2:] for line in out.splitlines()[1:12]}
    assert table["all"] == [str(6 - review), str(review)]
    trouser = [row for row in rows if row["label"] == "Trouser"]
    assert table["Trouser"] == [
        str(sum(r["needs_review"] == "False" for r in trouser)),
        str(sum(r["needs_review"] == "True" for r in trouser)),
    ]
    assert "wrote" in out and "6 images, 1 skipped" in out


def test_a_csv_source_and_its_bad_rows(serving_artifacts, shop, tmp_path, capsys):
    listing = tmp_path / "products.csv"
    listing.write_text("id,path,title\nSKU-1,shop/item-1.png,Shirt\nSKU-2,shop/missing.png,Gone\nbad row\n")
    output = tmp_path / "tags.csv"
    assert run(serving_artifacts, listing, output) == 0
    assert [row["id"] for row in read(output)] == ["SKU-1"]
    err = capsys.readouterr().err
    assert "missing.png: skipped" in err and "products.csv:4: skipped" in err


def test_an_interrupted_run_resumes_without_redoing_the_finished_images(serving_artifacts, shop, tmp_path, monkeypatch):
    output = tmp_path / "tags.csv"
    assert run(serving_artifacts, shop, output) == 0
    complete = read(output)
    # an interruption: the last two rows lost, and a row cut off in the middle of its line
    lines = output.read_text().splitlines()
    output.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:7])
    tagged = []
    original = local.tag_rows
    monkeypatch.setattr(local, "tag_rows", lambda ids, *rest: tagged.extend(ids) or original(ids, *rest))
    assert run(serving_artifacts, shop, output) == 0
    assert sorted(tagged) == sorted(row["id"] for row in complete[-2:])
    assert sorted(read(output), key=lambda row: row["id"]) == sorted(complete, key=lambda row: row["id"])


def test_decoding_in_two_processes_writes_the_same_rows_and_problems_as_in_one(
    serving_artifacts, shop, tmp_path, capsys
):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert run(serving_artifacts, shop, one, "--workers", "1") == 0
    problems = capsys.readouterr().err
    assert run(serving_artifacts, shop, two, "--workers", "2") == 0
    assert one.read_text() == two.read_text() and capsys.readouterr().err == problems


def test_an_unknown_target_accuracy_is_refused_with_the_ones_available(serving_artifacts, shop, tmp_path, capsys):
    assert run(serving_artifacts, shop, tmp_path / "tags.csv", "--target-accuracy", "0.9") == 2
    assert "choose one of ['0.99', '0.995']" in capsys.readouterr().err
    assert not (tmp_path / "tags.csv").exists()


def test_a_resumed_run_with_another_target_decides_the_review_again(serving_artifacts, shop, tmp_path):
    output = tmp_path / "tags.csv"
    assert run(serving_artifacts, shop, output) == 0  # target 0.99: margin threshold 0.5
    assert run(serving_artifacts, shop, output, "--target-accuracy", "0.995") == 0  # threshold 0.8
    rows = read(output)
    assert len(rows) == 6 and output.read_text().count("id,label") == 1
    for row in rows:
        assert row["needs_review"] == str(float(row["margin"]) < 0.8)


def test_the_summary_counts_the_auto_tagged_and_the_to_review_images_of_each_class():
    tags = [("Bag", False), ("Bag", False), ("Bag", True), ("Ankle boot", True)]
    lines = tag_output.summary(tags).splitlines()
    assert lines[0].split() == ["class", "auto-tagged", "to", "review"]
    table = {line.rsplit(maxsplit=2)[0]: line.split()[-2:] for line in lines[1:]}
    assert list(table) == [*CLASS_NAMES, "all"]
    assert table["Bag"] == ["2", "1"] and table["Ankle boot"] == ["0", "1"] and table["Coat"] == ["0", "0"]
    assert table["all"] == ["2", "2"]


@pytest.mark.parametrize("option", [["--actors", "2"], ["--format", "parquet"], ["--embeddings", "vectors"]])
def test_the_options_of_the_ray_pipeline_are_refused_without_ray_even_at_their_defaults(
    serving_artifacts, shop, tmp_path, capsys, option
):
    with pytest.raises(SystemExit) as exit_status:
        run(serving_artifacts, shop, tmp_path / "tags.csv", *option)
    assert exit_status.value.code == 2 and "need --ray" in capsys.readouterr().err
    assert not (tmp_path / "tags.csv").exists()


def test_a_tag_keeps_its_types_and_reads_back_from_its_csv_text():
    tag = tag_output.Tag("SKU-1", "Bag", 0.75, False, "Sandal", 0.5, "ok")
    text = tag_output.csv_text([tag], header=True)
    assert text == "id,label,confidence,needs_review,runner_up,margin,image_check\nSKU-1,Bag,0.75,False,Sandal,0.5,ok\n"
    row = next(csv.DictReader(text.splitlines()))
    assert tag_output.parse_row(row, ReviewRule(0.4)) == tag
    assert tag_output.parse_row(row, ReviewRule(0.6)) == tag._replace(needs_review=True)
    failed = row | {"image_check": "cut_off"}
    assert tag_output.parse_row(failed, ReviewRule(0.4)) == tag._replace(needs_review=True, image_check="cut_off")
    for cut_short in ({"runner_up": "San"}, {"margin": None}, {"margin": "0.x"}, {"image_check": None}):
        assert tag_output.parse_row(row | cut_short, ReviewRule(0.4)) is None


@pytest.mark.parametrize(
    "content",
    ["id,label,confidence,needs_review,runner_up,margin\nSKU-1,Bag,0.75,False,Sandal,0.5\n", "sku,price\nA,3\n"],
    ids=["tags written before the image checks", "another file"],
)
def test_an_output_in_other_columns_is_left_as_it_is_and_the_run_refused(
    serving_artifacts, shop, tmp_path, capsys, content
):
    output = tmp_path / "tags.csv"
    output.write_text(content)
    assert run(serving_artifacts, shop, output) == 2
    assert output.read_text() == content and "move it away" in capsys.readouterr().err
