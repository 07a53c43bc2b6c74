"""What a codec's latents know about the physics: clusters, a 2D map and linear probes.

Features per image come from the quantised latents a bitstream carries
(:func:`hifft.images.entropy.analyse`): ``y_stats``, each channel's mean and
standard deviation of ŷ (2M values, independent of the image size), and ``z``,
the flattened hyper-latent ẑ (hyperprior models). They are standardised and
reduced by PCA (fitted on the training images) before clustering.

Scores against the physical labels: k-means, a Gaussian mixture and HDBSCAN
(scikit-learn) with the adjusted Rand index (ARI) and normalised mutual
information against classes of (D, ω/D); ridge-regression probes from the
features to log R, log D, σ/R and ω/D, fitted on the training images and scored
by R² on held-out ones. scikit-learn does all of it; nothing here is hand-written
but the feature pooling and the class binning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bundle import CodecBundle
from .entropy import analyse

FEATURES = ("y_stats", "z")


def latent_features(bundle: CodecBundle, x: np.ndarray, batch: int = 16) -> dict[str, np.ndarray]:
    """Features (N, F) of model inputs ``x`` (N, C, H, W): ``y_stats`` and, for hyperpriors, ``z``."""
    feats: dict[str, list[np.ndarray]] = {}
    for s in range(0, len(x), batch):
        for lat in analyse(bundle, x[s: s + batch]):
            y = lat["y"].astype(np.float64)
            feats.setdefault("y_stats", []).append(np.concatenate([y.mean(axis=(1, 2)), y.std(axis=(1, 2))]))
            if "z" in lat:
                feats.setdefault("z", []).append(lat["z"].astype(np.float64).ravel())
    return {k: np.stack(v) for k, v in feats.items()}


def physics_classes(distance: np.ndarray, omega_d: np.ndarray, distance_edges: list[float],
                    omega_edges: list[float]) -> np.ndarray:
    """Class index of each image from its D bin (inner ``distance_edges``, Å) and ω/D bin (``omega_edges``):
    ``d_bin · (len(omega_edges) + 1) + ω_bin``."""
    d = np.searchsorted(np.asarray(distance_edges), np.asarray(distance), side="right")
    w = np.searchsorted(np.asarray(omega_edges), np.asarray(omega_d), side="right")
    return (d * (len(omega_edges) + 1) + w).astype(np.int64)


def _embed(train: np.ndarray, test: np.ndarray, variance: float = 0.95, max_components: int = 16,
           ) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(train)
    k = min(max_components, train.shape[1], train.shape[0] - 1)
    pca = PCA(n_components=k, random_state=0).fit(sc.transform(train))
    keep = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), variance) + 1)
    keep = max(2, min(keep, k))
    return pca.transform(sc.transform(train))[:, :keep], pca.transform(sc.transform(test))[:, :keep]


def cluster_scores(train: np.ndarray, test: np.ndarray, classes: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """ARI and NMI of k-means, a GMM (both with k = number of classes, fitted on ``train`` features)
    and HDBSCAN (on ``test``) against ``classes`` of the ``test`` images."""
    from sklearn.cluster import HDBSCAN, KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    tr, te = _embed(train, test)
    k = len(np.unique(classes))
    if len(tr) <= k:
        raise ValueError(f"cluster_scores: {len(tr)} training images for {k} classes; need more images than classes")
    out: dict[str, Any] = {"classes": k, "pca_components": int(tr.shape[1]), "images": len(te)}
    labels = {
        "kmeans": KMeans(n_clusters=k, n_init=10, random_state=seed).fit(tr).predict(te),
        "gmm": GaussianMixture(n_components=k, n_init=3, random_state=seed).fit(tr).predict(te),
        "hdbscan": HDBSCAN(min_cluster_size=max(5, len(te) // 40), copy=True).fit_predict(te),
    }
    for name, lab in labels.items():
        n_found = len(set(lab.tolist()) - {-1})
        out[name] = {"ari": float(adjusted_rand_score(classes, lab)),
                     "nmi": float(normalized_mutual_info_score(classes, lab)), "clusters": n_found}
        if name == "hdbscan":
            out[name]["noise_fraction"] = float(np.mean(lab == -1))
    ok = 1 < k < len(te)
    out["silhouette_true_classes"] = float(silhouette_score(te, classes)) if ok else None
    return out


def linear_probe(train: np.ndarray, y_train: dict[str, np.ndarray], test: np.ndarray,
                 y_test: dict[str, np.ndarray]) -> dict[str, float]:
    """Held-out R² of ridge regressions (penalty chosen by cross-validation on ``train``) per target."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for name, yt in y_train.items():
        reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15))).fit(train, yt)
        out[name] = float(r2_score(y_test[name], reg.predict(test)))
    return out


def latent_map(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2D t-SNE map (N, 2) of standardised features (for plots only; no score depends on it)."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    x = StandardScaler().fit_transform(features)
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


__all__ = ["FEATURES", "cluster_scores", "latent_features", "latent_map", "linear_probe", "physics_classes"]
