// A LIFO that keeps its first N elements inline (no allocation) and spills
// to the heap beyond: the explicit stack of the topic tree's and retained
// store's matching, which walk client-controlled depth iteratively instead
// of recursing. Almost every match needs a handful of entries, so the hot
// path allocates nothing; the inline slots are raw storage, not
// constructed up front (zeroing 16 frames per match made matching cost four
// times the recursive walk it replaced). T must be trivially copyable.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace duplex {

template <class T, size_t N>
class InlineStack {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

  public:
    InlineStack() {}
    bool empty() const { return size_ == 0; }
    void push(const T& value) {
        if (size_ < N) new (slot(size_)) T(value);
        else spill_.push_back(value);
        ++size_;
    }
    T pop() {
        --size_;
        if (size_ < N) return *std::launder(reinterpret_cast<T*>(slot(size_)));
        T v = spill_.back();
        spill_.pop_back();
        return v;
    }

  private:
    void* slot(size_t i) { return storage_ + i * sizeof(T); }
    alignas(T) unsigned char storage_[N * sizeof(T)];
    std::vector<T> spill_;
    size_t size_ = 0;
};

}  // namespace duplex
