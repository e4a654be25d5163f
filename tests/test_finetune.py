import warnings

import numpy as np
import pytest
import torch

from course_utils import finetune as ft, results

TEXTS = ["a gripping , funny film", "dull", "the plot is a mess and the actors look bored throughout",
         "wonderful", "not good at all , really not good", "fine", "one of the best films of the year",
         "a waste of two hours"]
LABELS = [1, 0, 0, 1, 0, 1, 1, 0]


@pytest.fixture(scope="module")
def fresh():
    torch.manual_seed(0)
    return ft.load_classifier()


def test_encode_truncates_and_rejects_a_bare_string(fresh):
    tok, _ = fresh
    batch = ft.encode(tok, ["word " * 500, "short"], [1, 0], max_length=16)
    assert batch["input_ids"].shape == (2, 16)
    assert batch["input_ids"][0, -1] == tok.sep_token_id     # truncated, but still ends with [SEP]
    assert batch["labels"].tolist() == [1, 0]
    with pytest.raises(TypeError, match="list of texts"):
        ft.encode(tok, "one string")
    with pytest.raises(ValueError, match="pair up"):
        ft.encode(tok, ["a", "b"], [1])


def test_bucketing_keeps_every_example_once_and_pads_less(fresh):
    tok, _ = fresh
    rng = np.random.default_rng(0)
    texts = [" ".join(["word"] * int(n)) for n in rng.integers(1, 40, size=400)]
    labels = [len(t) % 2 for t in texts]
    bucketed = ft.bucket_batches(tok, texts, labels, batch_size=16, seed=1)
    plain = ft.bucket_batches(tok, texts, labels, batch_size=16, seed=1, bucket=False)
    for batches in (bucketed, plain):
        n_words = sorted(int(m.sum()) - 2 for b in batches for m in b["attention_mask"])
        assert n_words == sorted(len(t.split()) for t in texts)
        for b in batches:   # labels travel with their texts
            lengths = b["attention_mask"].sum(1) - 2
            assert ((lengths * 5 - 1) % 2 == b["labels"]).all()
    assert ft.padding_share(bucketed) < 0.5 * ft.padding_share(plain)
    with pytest.raises(ValueError, match="as many labels"):
        ft.bucket_batches(tok, texts, labels[:-1])


def test_pooling_ignores_padding():
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = ft.mean_pool(hidden, mask)
    assert torch.allclose(pooled[0], hidden[0, :3].mean(0))
    assert torch.allclose(pooled[1], hidden[1].mean(0))
    assert torch.equal(ft.cls_pool(hidden), hidden[:, 0])


def test_embed_is_the_same_with_or_without_padding_partners(fresh):
    from course_utils.models import load_minilm

    tok, enc = load_minilm()
    alone = ft.embed(enc, tok, ["a short one"])
    padded = ft.embed(enc, tok, ["a short one", "a much longer sentence that forces padding on the first"])
    assert np.allclose(alone[0], padded[0], atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        ft.embed(enc, tok, ["x"], pooling="max")


def test_inference_sorts_by_length_but_answers_in_the_texts_order(fresh):
    tok, model = fresh
    rng = np.random.default_rng(1)
    texts = [" ".join(["word"] * int(n)) + f" {i}" for i, n in enumerate(rng.integers(1, 40, size=70))]
    batches = ft.length_sorted_batches(tok, texts, batch_size=16)
    assert sorted(i for idx, _ in batches for i in idx) == list(range(len(texts)))   # each text once
    plain = [ft.encode(tok, texts[s:s + 16]) for s in range(0, len(texts), 16)]
    assert ft.padding_share([b for _, b in batches]) < 0.5 * ft.padding_share(plain)
    for idx, b in batches:   # a batch's rows are the texts at its positions
        assert tok.batch_decode(b["input_ids"], skip_special_tokens=True) == [texts[i] for i in idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ft.UntrainedHeadWarning)
        together = ft.predict_proba(model, tok, texts, batch_size=16)
        one_by_one = np.concatenate([ft.predict_proba(model, tok, [t]) for t in texts[:12]])
    assert np.allclose(together[:12], one_by_one, atol=1e-5)
    vectors = ft.embed(model.base_model, tok, texts, batch_size=16)
    assert np.allclose(vectors[5], ft.embed(model.base_model, tok, [texts[5]])[0], atol=1e-5)
    assert ft.predict_proba(model, tok, []).shape == (0, 2) and ft.embed(model.base_model, tok, []).shape[0] == 0
    _, three = ft.load_classifier(num_labels=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ft.UntrainedHeadWarning)
        assert ft.predict_proba(three, tok, texts[:5]).shape == (5, 3)   # one column per class


def test_confusion_matrix_and_confidently_wrong():
    from sklearn.metrics import confusion_matrix

    y, p = [0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 1, 1]
    assert (ft.confusion_matrix(y, p) == confusion_matrix(y, p)).all()
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9], [0.45, 0.55]])
    wrong = ft.most_confidently_wrong(list("abcdef"), y, probs, k=2)
    assert [w[0] for w in wrong] == ["b", "d"]
    assert wrong[0][2] == pytest.approx(0.8)


def test_robust_inputs_and_untrained_warning(fresh):
    tok, model = fresh
    texts = ["", "great " * 10_000, "Ce film est magnifique.", "这部电影太无聊了", "😍🎬🍿", "   "]
    with pytest.warns(ft.UntrainedHeadWarning, match="never trained"):
        probs = ft.predict_proba(model, tok, texts)
    assert probs.shape == (len(texts), 2)
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and np.isfinite(probs).all()
    with pytest.raises(TypeError, match="list of texts"):
        ft.predict_proba(model, tok, "one string")


def test_trained_model_predicts_without_warning(tmp_path):
    tok, model, history = ft.train_classifier(TEXTS * 4, LABELS * 4, batch_size=8, epochs=1, amp="off")
    assert history.step and not ft.head_is_untrained(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ft.UntrainedHeadWarning)
        labels = ft.classify(model, tok, ["", "a lovely film"])
    assert set(labels) <= set(ft.LABELS)
    clf = ft.TextClassifier(model, tok)
    assert clf.classify(["", "a lovely film"]) == labels
    ft.save_classifier(model, tok, tmp_path / "clf")
    tok2, model2 = ft.load_trained_classifier(tmp_path / "clf")
    assert np.allclose(ft.predict_proba(model2, tok2, TEXTS), clf.predict_proba(TEXTS), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="save_classifier"):
        ft.load_trained_classifier(tmp_path / "nothing")
    result = ft.evaluate_classifier(model, tok, TEXTS, LABELS)
    assert result["confusion"].sum() == len(TEXTS)
    assert result["accuracy"] == pytest.approx(float((result["pred"] == np.array(LABELS)).mean()))


def test_lora_count_by_hand_matches_peft_and_merge_keeps_predictions():
    torch.manual_seed(0)
    tok, model = ft.load_classifier()
    n_head = sum(p.numel() for p in model.classifier.parameters())
    by_hand = ft.lora_parameter_count(model, 4, ["query", "value"])
    assert by_hand == 6 * 2 * 4 * (384 + 384)
    peft_model = ft.add_peft(model, "lora", rank=4, target_modules=("query", "value"))
    trainable, total = ft.count_parameters(peft_model)
    assert trainable == by_hand + n_head
    assert ft.lora_parameter_count(peft_model, 4, ["query", "value"]) == by_hand
    with torch.no_grad():   # B starts at zero (the adapter is a no-op); give it weights to test merging
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or "classifier" in name:
                p.normal_(0, 0.05)
    before = ft.predict_proba(peft_model, tok, TEXTS)
    merged = peft_model.merge_and_unload()
    after = ft.predict_proba(merged, tok, TEXTS)
    assert np.abs(before - after).max() < 1e-4
    assert not any("lora" in n for n, _ in merged.named_parameters())


def test_shira_trains_loras_count_of_each_weights_own_entries_at_full_rank():
    torch.manual_seed(0)
    tok, model = ft.load_classifier()
    head = sum(p.numel() for p in model.bert.pooler.parameters()) + sum(p.numel() for p in model.classifier.parameters())
    by_hand = ft.lora_parameter_count(model, 4, ft.ALL_LINEAR, layers=(4, 5))
    shira = ft.add_peft(model, "shira", rank=4, train_pooler=True, layers=(4, 5))
    assert ft.count_parameters(shira)[0] == by_hand + head          # LoRA's count at the same rank
    layers = {int(n.split("encoder.layer.")[1].split(".")[0]) for n, p in shira.named_parameters()
              if p.requires_grad and "shira_weight" in n}
    assert layers == {4, 5}
    query4 = shira.base_model.model.bert.encoder.layer[4].attention.self.query
    key4 = shira.base_model.model.bert.encoder.layer[4].attention.self.key
    entries = lambda m: {tuple(ij) for ij in m.shira_indices["default"].T.tolist()}
    assert len(entries(query4)) == 4 * (384 + 384)                  # distinct entries of the 384 x 384 weight
    assert entries(query4) != entries(key4)                         # every matrix draws its own
    torch.manual_seed(0)                                            # and the seed reproduces them
    again = ft.add_peft(ft.load_classifier()[1], "shira", rank=4, train_pooler=True, layers=(4, 5))
    assert entries(again.base_model.model.bert.encoder.layer[4].attention.self.query) == entries(query4)
    with torch.no_grad():   # zero at the start (a no-op); give the entries values to test rank and merging
        for name, p in shira.named_parameters():
            if "shira_weight" in name or "classifier" in name:
                p.normal_(0, 0.05)
    delta = query4.get_delta_weight("default").to_dense()
    assert int((delta != 0).sum()) == 4 * (384 + 384)              # only the chosen entries move
    assert torch.linalg.matrix_rank(delta) > 4 * 10                 # LoRA's rank-4 update could not
    before = ft.predict_proba(shira, tok, TEXTS)
    merged = shira.merge_and_unload()
    assert np.abs(before - ft.predict_proba(merged, tok, TEXTS)).max() < 1e-4
    with pytest.raises(ValueError, match="pissa"):
        ft.add_peft(ft.load_classifier()[1], "shira", init="pissa")
    with pytest.raises(ValueError, match="rank from 1 to 192"):   # more entries than a 384 x 384 weight has
        ft.add_peft(ft.load_classifier()[1], "shira", rank=193, target_modules=("query",))


def test_ia3_and_bad_method():
    torch.manual_seed(0)
    _, model = ft.load_classifier()
    total_before = ft.count_parameters(model)[1]
    ia3 = ft.add_peft(model, "ia3")
    trainable, total = ft.count_parameters(ia3)
    assert 0 < trainable < 0.01 * total
    assert total - total_before == trainable   # IA3 vectors and a trainable copy of the head are new
    with pytest.raises(ValueError, match="lora"):
        ft.add_peft(ft.load_classifier()[1], "adapters")


def test_train_pooler_trains_the_whole_head_and_keeps_lora_in_the_layers():
    torch.manual_seed(0)
    _, model = ft.load_classifier()
    pooler = sum(p.numel() for p in model.bert.pooler.parameters())
    head = sum(p.numel() for p in model.classifier.parameters())
    with_pooler = ft.lora_parameter_count(model, 4, ft.ALL_LINEAR)
    by_hand = ft.lora_parameter_count(model, 4, ft.ALL_LINEAR, train_pooler=True)
    assert with_pooler - by_hand == 4 * (384 + 384)                 # the pooler's LoRA, not taken
    lora = ft.add_peft(model, "lora", rank=4, train_pooler=True)
    trainable, _ = ft.count_parameters(lora)
    assert trainable == by_hand + pooler + head
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert not any("pooler" in n and "lora_" in n for n in names)
    assert any("pooler" in n and "modules_to_save" in n for n in names)


def test_lora_in_the_top_layers_only_leaves_the_lower_layers_out_of_the_backward_pass():
    torch.manual_seed(0)
    tok, model = ft.load_classifier()
    by_hand = ft.lora_parameter_count(model, 4, ft.ALL_LINEAR, layers=(4, 5))
    per_layer = sum(4 * (m.in_features + m.out_features) for m in model.bert.encoder.layer[0].modules()
                    if isinstance(m, torch.nn.Linear))
    assert by_hand == 2 * per_layer                                  # two of six identical layers
    head = sum(p.numel() for p in model.bert.pooler.parameters()) + sum(p.numel() for p in model.classifier.parameters())
    lora = ft.add_peft(model, "lora", rank=4, train_pooler=True, layers=(4, 5), dropout=0.0)
    names = [n for n, p in lora.named_parameters() if p.requires_grad and "lora_" in n]
    assert {int(n.split("encoder.layer.")[1].split(".")[0]) for n in names} == {4, 5}
    assert ft.count_parameters(lora)[0] == by_hand + head
    seen = []   # the output of layer 3 needs no gradient: backpropagation stops at layer 4
    hook = lora.base_model.model.bert.encoder.layer[3].register_forward_hook(lambda m, i, o: seen.append(o))
    batch = ft.encode(tok, TEXTS, LABELS)
    ft.classification_loss(lora, batch).backward()
    hook.remove()
    out = seen[0][0] if isinstance(seen[0], tuple) else seen[0]
    assert not out.requires_grad
    for bad in ((), (6,), (-1, 2)):
        with pytest.raises(ValueError, match="0..5"):
            ft.add_peft(ft.load_classifier()[1], "lora", layers=bad)
    with pytest.raises(ValueError, match="method='lora'"):
        ft.add_peft(ft.load_classifier()[1], "ia3", layers=(4, 5))


def test_attention_only_targets_leave_the_feed_forward_block_alone():
    torch.manual_seed(0)
    _, model = ft.load_classifier()
    head = sum(p.numel() for p in model.bert.pooler.parameters()) + sum(p.numel() for p in model.classifier.parameters())
    per_layer = sum(4 * (m.in_features + m.out_features) for m in model.bert.encoder.layer[0].attention.modules()
                    if isinstance(m, torch.nn.Linear))
    for layers, n_layers in ((None, 6), ((4, 5), 2)):
        by_hand = ft.lora_parameter_count(model, 4, ft.ATTENTION, layers=layers)
        assert by_hand == n_layers * per_layer                          # 4 of each layer's 6 linears
        lora = ft.add_peft(ft.load_classifier()[1], "lora", rank=4, target_modules=ft.ATTENTION,
                           train_pooler=True, layers=layers)
        adapted = {n.split(".lora_A")[0].split("encoder.layer.")[1][2:] for n, _ in lora.named_parameters()
                   if "lora_A" in n}
        assert adapted == {"attention.self.query", "attention.self.key", "attention.self.value",
                           "attention.output.dense"}
        assert ft.count_parameters(lora)[0] == by_hand + head
    plain = ft.add_peft(ft.load_classifier()[1], "lora", rank=4, target_modules=ft.ATTENTION)   # peft's list form
    adapted = {n.split(".lora_A")[0] for n, _ in plain.named_parameters() if "lora_A" in n}
    assert len(adapted) == 4 * 6 and all(n.endswith(ft.ATTENTION) for n in adapted)   # no FFN, no pooler


def test_pissa_init_starts_from_the_same_function_with_nonzero_b():
    torch.manual_seed(0)
    tok, base = ft.load_classifier()
    before = ft.predict_proba(base, tok, TEXTS)
    pissa = ft.add_peft(base, "lora", rank=4, init="pissa", dropout=0.0)
    assert any(bool(p.abs().sum() > 0) for n, p in pissa.named_parameters() if "lora_B" in n)
    assert np.abs(ft.predict_proba(pissa, tok, TEXTS) - before).max() < 1e-3   # W_res + BA = W
    with pytest.raises(ValueError, match="init"):
        ft.add_peft(ft.load_classifier()[1], "lora", init="gaussian")


def test_dropout_setting_and_loraplus_groups(monkeypatch):
    import course_utils.train as tr

    seen = {}
    original = tr.train

    def spy(model, batches, cfg, **kw):   # train_classifier imports train when called
        seen["dropout"] = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
        b_ids = {id(p) for n, p in model.named_parameters() if "lora_B" in n}
        seen["groups"] = {(g["lr_scale"], all(id(p) in b_ids for p in g["params"]))
                          for g in kw["optimizer"].param_groups}
        seen["clock"] = cfg.schedule_clock
        return original(model, batches, cfg, **kw)

    monkeypatch.setattr(tr, "train", spy)
    ft.train_classifier(TEXTS, LABELS, method="lora", batch_size=8, amp="off", dropout=0.0,
                        loraplus_ratio=4.0, max_seconds=30)
    assert seen["dropout"] == {0.0}
    assert seen["groups"] == {(1.0, False), (4.0, True)}     # B matrices alone get 4x the rate
    assert seen["clock"] == "time"
    with pytest.raises(ValueError, match="loraplus_ratio"):
        ft.train_classifier(TEXTS, LABELS, method="full", loraplus_ratio=4.0)
    with pytest.raises(ValueError, match="dropout"):
        ft.train_classifier(TEXTS, LABELS, dropout=1.5)
    monkeypatch.setattr(ft, "load_classifier", lambda: pytest.fail("settings must be checked before loading"))
    with pytest.raises(ValueError, match="amp"):
        ft.train_classifier(TEXTS, LABELS, amp="fp8")
    assert ft.ClassifierConfig().amp == "native"


def test_layer_decay_rates_fall_layer_by_layer(monkeypatch):
    import course_utils.train as tr

    scale = ft.layer_decay_scale(6, 0.5)
    assert scale("classifier.weight") == scale("bert.pooler.dense.weight") == 1.0
    assert [scale(f"bert.encoder.layer.{i}.attention.self.query.weight") for i in range(6)] == [
        0.5 ** (6 - i) for i in range(6)]
    assert scale("bert.embeddings.word_embeddings.weight") == 0.5 ** 7
    assert scale("base_model.model.bert.encoder.layer.3.output.dense.lora_B.default.weight") == 0.5 ** 3

    seen = {}
    original = tr.train

    def spy(model, batches, cfg, **kw):
        names = {id(p): n for n, p in model.named_parameters()}
        seen["scales"] = {names[id(p)]: g["lr_scale"] for g in kw["optimizer"].param_groups for p in g["params"]}
        return original(model, batches, cfg, **kw)

    monkeypatch.setattr(tr, "train", spy)
    ft.train_classifier(TEXTS, LABELS, method="full", batch_size=8, amp="off", layer_decay=0.8, max_seconds=30)
    s = seen["scales"]
    assert len(s) == sum(1 for _ in ft.load_classifier()[1].parameters())   # every weight is trained
    assert s["classifier.weight"] == 1.0
    assert s["bert.encoder.layer.0.output.dense.weight"] == pytest.approx(0.8 ** 6)
    assert s["bert.embeddings.word_embeddings.weight"] == pytest.approx(0.8 ** 7)
    ft.train_classifier(TEXTS, LABELS, method="lora", batch_size=8, amp="off", layer_decay=0.5,
                        loraplus_ratio=4.0, max_seconds=30)     # the two multipliers combine
    s = seen["scales"]
    assert s["base_model.model.bert.encoder.layer.5.output.dense.lora_B.default.weight"] == pytest.approx(2.0)
    assert s["base_model.model.bert.encoder.layer.5.output.dense.lora_A.default.weight"] == pytest.approx(0.5)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="layer_decay"):
            ft.train_classifier(TEXTS, LABELS, layer_decay=bad)


def test_lr_scale_groups_follow_the_schedule():
    from course_utils.train import TrainConfig, make_optimizer, train

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    cfg = TrainConfig(max_steps=3, lr=1e-2, schedule="constant", progress=False)
    opt = make_optimizer(model, cfg, lr_scale=lambda n: 10.0 if n.startswith("1.") else 1.0)
    assert {(g["weight_decay"] > 0, g["lr_scale"]) for g in opt.param_groups} == {
        (True, 1.0), (False, 1.0), (True, 10.0), (False, 10.0)}
    x = torch.randn(8, 3)
    train(model, lambda i: (x, torch.zeros(8, dtype=torch.long)), cfg,
          loss_fn=lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), optimizer=opt)
    assert sorted({g["lr"] for g in opt.param_groups}) == pytest.approx([1e-2, 1e-1])


def test_unknown_setting_is_rejected():
    with pytest.raises(TypeError, match="unknown setting"):
        ft.train_classifier(TEXTS, LABELS, learning_rate=1e-3)


def test_results_lookup_says_not_measured_until_a_file_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    assert results.load("finetune_sst2", "gpu") is None and ft.measured_row("gpu", "full") is None
    assert ft.load_predictions("gpu") is None
    rows = [{"method": "full", "dev_accuracy": 0.9}, {"method": "lora", "dev_accuracy": 0.89}]
    results.save("finetune_sst2", {"rows": rows}, "gpu", folder=tmp_path)
    results.save("finetune_sst2_predictions", {"methods": {"full": {"dev_p_positive": [0.2, 0.9]}}}, "gpu",
                 folder=tmp_path)
    assert ft.measured_row("gpu", "lora")["dev_accuracy"] == 0.89
    assert ft.measured_row("gpu", "ia3") is None
    assert ft.load_predictions("gpu", "full")["dev_p_positive"] == [0.2, 0.9]


def test_stored_lora_results_match_their_settings():
    """The committed cpu results (the table and the over-the-cap check in notebook 4.5): each
    trainable count is what its recorded LoRA (or SHiRA: the same count) settings give, and each
    mean is its runs' mean. SHiRA's row ran with LoRA's matrices, count, batch and rate."""
    torch.manual_seed(0)
    _, model = ft.load_classifier()
    pooler = sum(p.numel() for p in model.bert.pooler.parameters())
    head = sum(p.numel() for p in model.classifier.parameters())
    checked = set()
    for name in ("finetune_sst2", "finetune_sst2_lora_capacity", "finetune_sst2_3epochs"):
        res = results.load(name, "cpu")
        if res is None:
            continue
        for row in res["rows"]:
            if "dev_accuracy_per_seed" in row:
                runs = row["dev_accuracy_per_seed"]
                assert row["dev_accuracy"] == pytest.approx(sum(runs) / len(runs), abs=1e-4)
            st = row.get("settings", {})
            if row["method"] not in ("lora", "shira") or not st.get("pooler_trained_in_full"):
                continue
            layers = None if st["lora_layers"] == "all" else tuple(st["lora_layers"])
            by_hand = ft.lora_parameter_count(model, st["rank"], st["lora_targets"], layers=layers, train_pooler=True)
            assert row["trainable_params"] == by_hand + pooler + head
            assert row["trainable_share"] == pytest.approx(row["trainable_params"] / row["total_params"])
            # only the capacity check is over the cap, on purpose
            assert (row["trainable_share"] <= 0.02) == (name != "finetune_sst2_lora_capacity")
            checked.add((name, row["method"]))
    assert checked == {("finetune_sst2", "lora"), ("finetune_sst2", "shira"),
                       ("finetune_sst2_lora_capacity", "lora"), ("finetune_sst2_3epochs", "lora"),
                       ("finetune_sst2_3epochs", "shira")}
    lora, shira = ft.measured_row("cpu", "lora")["settings"], ft.measured_row("cpu", "shira")["settings"]
    for key in ("rank", "lora_layers", "lora_targets", "pooler_trained_in_full", "batch_size", "lr", "dropout"):
        assert shira[key] == lora[key], key
    assert shira["max_seconds"] == results.load("finetune_sst2", "cpu")["settings"]["max_seconds"] == 240   # the same budget


def test_stored_three_pass_results_ran_as_recorded():
    """Notebook 4.5's no-time-limit comparison: three whole passes for each method, the rate
    decaying over the steps, with the same method settings as the 4-minute table's rows."""
    res = results.load("finetune_sst2_3epochs", "cpu")
    assert res is not None, "results/finetune_sst2_3epochs_cpu.json is missing (see the benchmark's docstring)"
    assert res["settings"]["epochs"] == 3 and res["settings"]["max_seconds"] is None
    rows = {r["method"]: r for r in res["rows"]}
    assert {"full", "lora"} <= set(rows) <= {"full", "lora", "shira"}
    for method, row in rows.items():
        st, short = row["settings"], ft.measured_row("cpu", method)["settings"]
        assert st["epochs"] == 3 and st["max_seconds"] is None and st["lr_decay_over"] == "the steps"
        assert row["stopped"] == "" and row["examples_seen"] == 3 * row["train_examples"]   # every pass finished
        for key in ("lr", "batch_size", "rank", "lora_layers", "lora_targets", "pooler_trained_in_full", "dropout"):
            assert st[key] == short[key], (method, key)
        assert row["train_seconds"] > 3 * 240   # far past the 4-minute budget


def test_peft_registry_drives_add_peft_rates_and_config():
    """Every registered method builds through add_peft, has its default rate in DEFAULT_LR and is
    accepted by train_classifier's config; a duplicate name is refused; a caller's config is not
    changed by train_classifier's overrides."""
    from course_utils import peft as P

    assert set(P.METHODS) <= set(ft.DEFAULT_LR) and ft.DEFAULT_LR["full"] == 1e-4
    assert set(ft.LAYERED) == {n for n, m in P.METHODS.items() if m.layered}
    for name in P.METHODS:
        model = P.add_peft(ft.load_classifier()[1], name, rank=2)
        trainable, total = ft.count_parameters(model)
        assert 0 < trainable < 0.1 * total, name
    with pytest.raises(ValueError, match="already registered"):
        P.register(P.METHODS["lora"])
    cfg = ft.ClassifierConfig(method="lora")
    with pytest.raises(ValueError, match="method must be 'full' or one of 'lora'"):
        ft.train_classifier(["a"], [0], cfg, method="adapters")
    assert cfg.method == "lora"   # the caller's object is untouched
    with pytest.raises(TypeError, match="unknown setting 'rnak'"):
        ft.train_classifier(["a"], [0], cfg, rnak=4)


def test_embed_normalize_gives_unit_vectors_in_input_order():
    from course_utils import text

    tok, enc = ft.load_classifier()
    texts = ["a much longer sentence so that the batch is sorted by length", "short"]
    plain = text.embed(enc.base_model, tok, texts)
    unit = text.embed(enc.base_model, tok, texts, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(unit, plain / np.linalg.norm(plain, axis=1, keepdims=True), atol=1e-5)
    with pytest.raises(TypeError, match="wrap it as"):
        text.embed(enc.base_model, tok, "one string")


def test_prefix_tuning_trains_key_value_vectors_per_layer_and_the_head():
    """Prefix tuning, added through the registry alone: per layer PREFIX_TOKENS key and value
    vectors (2 x tokens x hidden numbers), plus the classification head; a padded batch trains."""
    from course_utils import peft as P

    tok, model = ft.load_classifier()
    cfg = model.config
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith("classifier"))
    prefixed = P.add_peft(model, "prefix")
    trainable, _ = ft.count_parameters(prefixed)
    assert trainable == P.PREFIX_TOKENS * cfg.num_hidden_layers * 2 * cfg.hidden_size + head
    batch = ft.encode(tok, ["a fine film", "a long, dull and badly acted mess of a movie"], [1, 0])
    loss = ft.classification_loss(prefixed, batch)
    loss.backward()
    grads = [p.grad for n, p in prefixed.named_parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    assert P.METHODS["prefix"].label == "prefix tuning" and ft.DEFAULT_LR["prefix"] == P.METHODS["prefix"].default_lr
